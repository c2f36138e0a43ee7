"""The paper's e-commerce click logs: CIKM Cup 2019 EComm AI and Ali_Display_Ad_Click (Taobao display ads)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from pprlib.data.checks import misplaced
from pprlib.data.errors import ROW, DataValidationError, _where
from pprlib.data.readers.tables import _folder, _read_file
from pprlib.data.schema import InteractionData, _require_columns, build_dataset

__all__ = ["read_cikm2019", "read_ali_display_ad", "CIKM_PROFILE_FIELDS", "ALI_PROFILE_FIELDS"]

CIKM_PROFILE_FIELDS = ("gender", "age", "purchase_power")
ALI_PROFILE_FIELDS = (
    "cms_segid",
    "cms_group_id",
    "final_gender_code",
    "age_level",
    "pvalue_level",
    "shopping_level",
    "occupation",
    "new_user_class_level",
)


def read_cikm2019(
    folder: str | os.PathLike,
    *,
    behaviors: Sequence[str] = ("pv",),
    profile_fields: Sequence[str] = CIKM_PROFILE_FIELDS,
) -> InteractionData:
    """CIKM Cup 2019 EComm AI raw files (CSV, no header) in ``folder``.

    ``user_behavior.csv`` (user_id, item_id, behavior, timestamp): the interactions are the
    rows whose behavior is in ``behaviors`` (clicks = ``"pv"``). ``user.csv`` (user_id,
    gender, age, purchase_power): the profiles. ``item.csv`` (item_id, category_id, shop_id,
    brand_id), if present, becomes ``item_features`` (strings, as in the file). The raw log
    repeats events, so identical (user, item, timestamp) rows are dropped; users without a
    profile row get an all-missing profile.
    """
    folder = _folder(folder)
    inter_path, users_path, items_path = (folder / f for f in ("user_behavior.csv", "user.csv", "item.csv"))
    log = _read_file(inter_path, sep=",", columns=("user_id", "item_id", "behavior", "timestamp"))
    users = _read_file(users_path, sep=",", columns=("user_id", *CIKM_PROFILE_FIELDS))
    behavior = log["behavior"].str.strip()
    keep = behavior.isin(list(behaviors)).to_numpy()
    if not keep.any():
        found = sorted(set(behavior.dropna()))[:10]
        raise DataValidationError(f"{_where(str(inter_path), 'behavior')}: no row has a behavior in {list(behaviors)}; "
                                  f"found {found}{misplaced(log, behaviors, 'behavior', ', '.join(log.columns[:4]))}")
    items = None
    if items_path.exists():
        items = _read_file(items_path, sep=",", columns=("item_id", "category_id", "shop_id", "brand_id"))
        items = items.drop(columns=ROW)
    return build_dataset(
        log[keep],
        users,
        profile_fields,
        name="cikm2019",
        interactions_source=str(inter_path),
        users_source=str(users_path),
        user_col="user_id",
        item_col="item_id",
        unknown_users="missing",
        duplicates="drop",
        item_features=items,
        meta={"reader": "read_cikm2019", "behaviors": list(behaviors),
              "files": [str(inter_path), str(users_path)]},
    )


def read_ali_display_ad(
    folder: str | os.PathLike,
    *,
    profile_fields: Sequence[str] = ALI_PROFILE_FIELDS,
) -> InteractionData:
    """Ali_Display_Ad_Click (Taobao display ads, CSV with header) in ``folder``.

    ``raw_sample.csv`` (user, time_stamp, adgroup_id, pid, nonclk, clk): the interactions
    are the clicks (``clk == 1``), the item is the ad group. ``user_profile.csv`` (userid and
    the eight profile fields; header names are stripped, as the real file's last one carries
    a trailing space; empty values are missing). ``ad_feature.csv``, if present, becomes
    ``item_features`` (strings). Repeated identical clicks are dropped; users without a
    profile row get an all-missing profile.
    """
    folder = _folder(folder)
    inter_path, users_path, ads_path = (folder / f for f in ("raw_sample.csv", "user_profile.csv", "ad_feature.csv"))
    sample = _read_file(inter_path, sep=",")
    users = _read_file(users_path, sep=",")
    _require_columns(sample, ["clk"], str(inter_path))
    _require_columns(users, ["userid"], str(users_path))

    clk = pd.to_numeric(sample["clk"], errors="coerce")
    bad = ~clk.isin([0, 1]).to_numpy()
    if bad.any():
        raise DataValidationError(
            f"{_where(str(inter_path), 'clk', sample.loc[bad, ROW].tolist())}: clk must be 0 or 1, "
            f"got {sample['clk'][bad].iloc[0]!r}"
        )
    if not (clk == 1).any():
        raise DataValidationError(f"{_where(str(inter_path), 'clk')}: no row is a click (clk == 1)")
    items = None
    if ads_path.exists():
        items = _read_file(ads_path, sep=",").drop(columns=ROW)
    return build_dataset(
        sample[(clk == 1).to_numpy()],
        # build_dataset takes one user column name for both frames (messages about the
        # profile file therefore say 'user' for its 'userid')
        users.rename(columns={"userid": "user"}),
        profile_fields,
        name="ali_display_ad",
        interactions_source=str(inter_path),
        users_source=str(users_path),
        user_col="user",
        item_col="adgroup_id",
        time_col="time_stamp",
        unknown_users="missing",
        duplicates="drop",
        item_features=items,
        meta={"reader": "read_ali_display_ad", "files": [str(inter_path), str(users_path)]},
    )
