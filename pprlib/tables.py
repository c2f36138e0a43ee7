"""Tables as a reader sees them: the unit of every number in its column's header, numbers
rounded, truth values as yes / no.

The helpers here change what a page shows, never the tables the chapters glue (their tests and
the summary read those): a chapter computes a table, glues it, and displays
``tables.with_units(table)`` or ``tables.readable(table)``.
"""

from __future__ import annotations

import math
import re
from functools import partial

import numpy as np
import pandas as pd

UNIT_HEADERS = {
    "MDE": "MDE ({u})",
    "δ (paper, our units)": "paper's δ ({u})",
    "paper δ": "paper's δ ({u})",
    "paper's δ": "paper's δ ({u})",
    "reference mean": "reference's mean ({u})",
    "effect": "effect ({u}) [95% interval]",
    "smallest effect of interest": "smallest effect of interest ({u})",
}
"""A header that names a number but not its unit -> the header with it (``{u}``: the unit)."""


def unit_of(table: pd.DataFrame) -> str | None:
    """The unit a table of effects names in its first ``Δ<unit> ...`` header (any level), e.g.
    "NDCG@10" from "ΔNDCG@10 vs ft [95% interval]"; None where it names none."""
    for label in table.columns.to_flat_index():
        for part in label if isinstance(label, tuple) else (label,):
            found = re.match(r"Δ(\S+)", str(part))
            if found:
                return found.group(1)
    return None


def with_units(table: pd.DataFrame, unit: str | None = None, columns: dict | None = None) -> pd.DataFrame:
    """``table`` with the unit in each header of :data:`UNIT_HEADERS` (on every level of the
    columns): ``unit``, or the one its ``Δ<unit>`` header names (:func:`unit_of`). ``columns``
    renames more headers (old -> new). The cells are left as they are."""
    unit = unit or unit_of(table)
    names = {} if unit is None else {old: new.format(u=unit) for old, new in UNIT_HEADERS.items()}
    return table.rename(columns=names | (columns or {}))


def cell_text(value, digits: int = 4) -> str:
    """One cell as the page shows it: a truth value as "yes" / "no", a whole number with
    thousands separators, any other number with ``digits`` decimals, a missing one as "—";
    text as it is."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        return "—" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def readable(table: pd.DataFrame, digits: int = 4, unit: str | None = None, columns: dict | None = None):
    """``table`` styled for the page: every cell through :func:`cell_text` (``digits``
    decimals), the headers through :func:`with_units`."""
    return with_units(table, unit, columns).style.format(partial(cell_text, digits=digits))


def mean_sd(table: pd.DataFrame, label: str, digits: int = 4) -> pd.DataFrame:
    """A table with ``mean`` and ``std`` columns (over seeds) as one column ``label`` of
    "mean ± sd" cells (the other columns dropped): one number's column, its unit in ``label``."""
    cells = [f"{m:.{digits}f} ± {s:.{digits}f}" if math.isfinite(s) else f"{m:.{digits}f} (1 run)"
             for m, s in zip(table["mean"].astype(float), table["std"].astype(float), strict=True)]
    return pd.DataFrame({label: cells}, index=table.index)


def power_of_ten(value: float) -> str:
    """A learning rate such as 1e-05 as "10⁻⁵" (a power of ten) or with its significant digits."""
    exponent = math.log10(value) if value > 0 else math.nan
    if math.isfinite(exponent) and abs(exponent - round(exponent)) < 1e-9:
        return "10" + str(int(round(exponent))).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{value:g}"


SETTING_MEANINGS = {
    # the backbone (pprlib.models.BackboneConfig)
    "name": "architecture",
    "d": "hidden size: dimensions of every embedding and state",
    "n_layers": "Transformer layers",
    "n_heads": "attention heads",
    "ffn": "feed-forward width (units)",
    "dropout": "dropout rate (share of units dropped)",
    "max_len": "longest history read (clicks)",
    "norm_first": "layer norm before each block (no: after it, as in SASRec)",
    # training (pprlib.train.TrainConfig)
    "lr": "learning rate",
    "weight_decay": "weight decay per step (decoupled for adamw)",
    "optimizer": "optimizer",
    "batch_size": "sequences per batch",
    "max_epochs": "most epochs",
    "patience": "epochs without a gain before early stopping",
    "min_delta": "smallest gain of the monitored metric that counts (NDCG@10)",
    "targets": "training targets (few: every click after the first)",
    "loss": "loss (ce: softmax over all items; bpr: one sampled negative)",
    "monitor": "metric early stopping watches (warm validation clicks)",
    "seed": "random seed",
    "deterministic": "deterministic CUDA kernels",
    "device": "device (auto: a GPU where there is one)",
    "amp": "bf16 autocast on a GPU",
    "progress": "progress bars",
}
"""What each setting of a configuration means, with its unit, for :func:`meanings_table`."""


def meanings_table(settings: dict, meanings: dict | None = None) -> pd.DataFrame:
    """A configuration as a long table that fits the page's column: one row per setting (its
    name, its value as :func:`pprlib.evidence.format_number` shows it, and what it means, with its unit, from
    ``meanings``, by default :data:`SETTING_MEANINGS`)."""
    meanings = SETTING_MEANINGS if meanings is None else meanings
    from pprlib.evidence import format_number

    return pd.DataFrame({"value": {k: format_number(v) for k, v in settings.items()},
                         "what it is (unit)": {k: meanings.get(k, "") for k in settings}}).rename_axis("setting")


def settings_view(settings: dict, meanings: dict | None = None):
    """:func:`meanings_table` styled for the page: every cell in full (a plain table's long text
    would be cut to 50 characters), left-aligned."""
    return (meanings_table(settings, meanings).style.set_properties(**{"text-align": "left"})
            .set_table_styles([{"selector": "th", "props": "text-align: left"}]))
