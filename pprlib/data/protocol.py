"""The cold-start protocol of the paper, deterministic for a seed.

* **Warm / cold** by the click threshold (paper: fewer than 10 clicks = cold). Warm users'
  clicks pre-train the sequential model; for warm-user evaluation their last click is the
  test target and the one before it the validation target (leave-one-out), and neither is
  used in pre-training.
* Data without natural cold users (every MovieLens user has >= 20 ratings) gets a documented
  **simulation**: a share of the users is held out as cold and each of their histories is
  truncated to its first ``L`` clicks, ``L`` uniform in ``1 .. threshold - 1``.
* Cold users are split **by user**: 80 % tuning / 20 % test; 10 % of the tuning users are
  held out for validation (early stopping, model selection). Test users are only looked at in
  the final evaluation.
* A cold user's **zero-shot instance** is their first click (history empty, profile only);
  each later click is a **few-shot instance** whose history is every earlier click.
* Each evaluation instance gets a **fixed list of 99 negatives** (items that user never
  clicked), drawn once with the split's seed and saved with it, so every model is ranked
  against the same candidates. Column 0 of ``candidates`` is the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pprlib.data.sampling import sample_negatives
from pprlib.data.schema import InteractionData

MIN_COLD_USERS = 10
"""Fewest cold users :func:`split` accepts (the test, validation and tuning users come from them)."""

HELDOUT_SETS = ("heldout", "heldout_zero")
"""The instance sets of generated held-out test users (``meta["heldout_users"]``): the held-out cold
users' instances, and the first clicks of the held-out one-click users (``meta["zero_shot_users"]``)."""


@dataclass(frozen=True)
class ProtocolConfig:
    """Parameters of the warm/cold split and of the evaluation candidates."""

    cold_threshold: int = 10
    test_share: float = 0.2
    val_share: float = 0.1
    n_negatives: int = 99
    max_history: int = 100
    simulate_cold_share: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.cold_threshold, int) or self.cold_threshold < 2:
            raise ValueError(f"ProtocolConfig.cold_threshold must be an integer >= 2, got {self.cold_threshold!r}")
        for name in ("test_share", "val_share"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"ProtocolConfig.{name} must lie in (0, 1), got {value!r}")
        if not 0.0 <= self.simulate_cold_share < 1.0:
            raise ValueError(
                f"ProtocolConfig.simulate_cold_share must lie in [0, 1), got {self.simulate_cold_share!r}"
            )
        if not isinstance(self.n_negatives, int) or self.n_negatives < 1:
            raise ValueError(f"ProtocolConfig.n_negatives must be an integer >= 1, got {self.n_negatives!r}")
        if not isinstance(self.max_history, int) or self.max_history < 1:
            raise ValueError(f"ProtocolConfig.max_history must be an integer >= 1, got {self.max_history!r}")


@dataclass
class Instances:
    """Prediction instances: the target is ``data.sequence(user)[position]`` and the history
    is the (at most ``max_history``) clicks before it. ``candidates`` (n, 1 + n_negatives)
    holds the target in column 0 and the fixed negatives after it (absent for tuning sets)."""

    users: np.ndarray
    positions: np.ndarray
    targets: np.ndarray
    candidates: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.users)

    def select(self, mask: np.ndarray) -> Instances:
        mask = np.asarray(mask)
        return Instances(
            self.users[mask], self.positions[mask], self.targets[mask],
            None if self.candidates is None else self.candidates[mask],
        )

    def zero_shot(self) -> Instances:
        """Instances without history (the user's first click)."""
        return self.select(self.positions == 0)

    def few_shot(self) -> Instances:
        """Instances with at least one earlier click."""
        return self.select(self.positions > 0)

    def k_shot(self, k: int) -> Instances:
        """Few-shot instances whose history holds at most ``k`` clicks (the sparsity study:
        every cold sequence cropped to its first ``k + 1`` clicks)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        return self.select((self.positions > 0) & (self.positions <= k))


def concat_instances(parts) -> Instances:
    """The instances of ``parts`` one after another (candidates kept where every part has them)."""
    parts = list(parts)
    fields = ("users", "positions", "targets") + (("candidates",) if all(p.candidates is not None for p in parts)
                                                  else ())
    return Instances(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


@dataclass(frozen=True)
class WarmProfiles:
    """Warm users read as cold-start examples (what :meth:`ColdStartSplit.warm_profiles` gives):
    the tuning part (``tune_users``, each with its first ``lengths`` clicks) and the held-out
    validation part (``val``: the same cut of the other warm users, with candidates). Warm
    users' clicks are pre-training data; their profiles are data that the paper's PPR never reads."""

    tune_users: np.ndarray
    lengths: np.ndarray
    val: Instances


def _warm_profiles(split: ColdStartSplit, val_share: float) -> WarmProfiles:
    if not 0.0 < val_share < 1.0:
        raise ValueError(f"val_share must lie in (0, 1), got {val_share!r}")
    data, cut = split.data, split.config.cold_threshold - 1
    warm = np.random.default_rng([split.config.seed, 11]).permutation(split.warm_users)
    n_val = max(1, int(round(val_share * len(warm))))
    val_users, tune_users = np.sort(warm[:n_val]), np.sort(warm[n_val:])
    val = _user_instances(data, val_users)
    val = val.select(val.positions < cut)
    _add_candidates(split.clicked, {"val": val}, ("val",), split.config, np.random.default_rng([split.config.seed, 12]))
    return WarmProfiles(tune_users, np.minimum(data.lengths[tune_users], cut), val)


def _user_instances(data: InteractionData, users: np.ndarray, first: int = 0) -> Instances:
    """Every click of ``users`` from position ``first`` on, as instances."""
    lengths = data.lengths[users]
    counts = np.maximum(lengths - first, 0)
    rep_users = np.repeat(users, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    positions = np.arange(counts.sum()) - starts + first
    targets = data.items[data.offsets[rep_users] + positions]
    return Instances(rep_users, positions, targets)


@dataclass
class ColdStartSplit:
    """Warm/cold users, cold tuning/validation/test users and the evaluation instances."""

    data: InteractionData
    config: ProtocolConfig
    warm_users: np.ndarray
    tune_users: np.ndarray
    val_users: np.ndarray
    test_users: np.ndarray
    sets: dict[str, Instances] = field(default_factory=dict)
    full: InteractionData | None = None  # the data before simulated cold users were truncated
    # extra cold test users of the same world (generated data only): never pre-trained or tuned on
    heldout_users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def one_click_users(self) -> np.ndarray:
        """The held-out one-click users (generated data with ``zero_shot_users``; among
        :attr:`heldout_users`): each one zero-shot test instance, no few-shot one."""
        return np.asarray(self.data.meta.get("zero_shot_users", np.zeros(0, dtype=np.int64)), dtype=np.int64)

    @property
    def heldout_cold_users(self) -> np.ndarray:
        """The held-out cold users: :attr:`heldout_users` but the one-click ones."""
        return np.setdiff1d(self.heldout_users, self.one_click_users)

    @property
    def clicked(self) -> InteractionData:
        """The data whose clicks rule out negatives: with simulated cold users the untruncated
        data, so that a click cut off to simulate cold start never becomes a negative."""
        return self.data if self.full is None else self.full

    # instance sets -----------------------------------------------------------------------
    def instances(self, name: str) -> Instances:
        """One of ``tune``, ``val``, ``test`` (cold users), ``warm_val``, ``warm_test``, and on
        data with held-out users ``heldout`` (the held-out cold users' instances),
        ``heldout_zero`` (the held-out one-click users' first clicks) and ``test+heldout`` (every
        test population, the paper-protocol test users first, in the order of :data:`HELDOUT_SETS`)."""
        held = [self.sets[n] for n in HELDOUT_SETS if n in self.sets]
        if name == "test+heldout" and held:
            return concat_instances([self.sets["test"], *held])
        if name not in self.sets:
            raise ValueError(f"unknown instance set {name!r}; choose from {sorted(self.sets)}")
        return self.sets[name]

    def pretrain_sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, lengths) of the warm training sequences: every warm click but the last two."""
        return self.warm_users, self.data.lengths[self.warm_users] - 2

    def warm_profiles(self, val_share: float = 0.1) -> WarmProfiles:
        """The warm users as cold-start examples (:class:`WarmProfiles`): each warm user's first
        ``cold_threshold - 1`` clicks (what a cold user can have) with their profile, a fixed
        ``val_share`` of the warm users held out for validation (drawn with the split's seed,
        their instances ranked against 99 fixed negatives like every validation instance)."""
        memo = self.__dict__.setdefault("_warm_profiles", {})  # drawn once per split and share
        if val_share not in memo:
            memo[val_share] = _warm_profiles(self, val_share)
        return memo[val_share]

    def table(self) -> pd.DataFrame:
        """Statistics in the shape of the paper's Table 2, plus the split sizes."""
        d = self.data
        cold = np.concatenate([self.tune_users, self.val_users, self.test_users])
        test, val, tune = self.instances("test"), self.instances("val"), self.instances("tune")
        rows = {
            "users": d.n_users - len(self.heldout_users),  # the held-out test users are listed below
            "items": d.n_items,
            "interactions": d.n_interactions - int(d.lengths[self.heldout_users].sum()),
            "pre-train instances": int(self.pretrain_sequences()[1].sum()),
            "tuning instances": len(tune) + len(val),
            "profile fields": len(d.profile_fields),
            "warm users": len(self.warm_users),
            "cold users (tune / val / test)": f"{len(self.tune_users)} / {len(self.val_users)} / {len(self.test_users)}",
            "test instances (few-shot / zero-shot)": f"{len(test.few_shot())} / {len(test.zero_shot())}",
        }
        if "heldout" in self.sets:
            held = self.instances("heldout")
            rows["held-out cold test users (generated)"] = len(self.heldout_cold_users)
            rows["held-out test instances (few-shot / zero-shot)"] = (
                f"{len(held.few_shot())} / {len(held.zero_shot())}")
        if "heldout_zero" in self.sets:
            rows["held-out one-click test users (generated; zero-shot only)"] = len(self.one_click_users)
        rows |= {
            "mean clicks, warm / cold": f"{d.lengths[self.warm_users].mean():.1f} / {d.lengths[cold].mean():.1f}",
        }
        return pd.DataFrame({"value": rows}).rename_axis(d.name)

    def describe_user(self, user: int, n_candidates: int = 3) -> pd.DataFrame:
        """A worked example: every instance of one cold user, with history and candidates."""
        d = self.data
        rows = []
        for name in ("tune", "val", "test"):
            inst = self.instances(name)
            for k in np.flatnonzero(inst.users == user):
                pos = int(inst.positions[k])
                history = d.sequence(user)[max(0, pos - self.config.max_history) : pos]
                row = {
                    "split": name,
                    "kind": "zero-shot" if pos == 0 else "few-shot",
                    "history": " ".join(str(d.item_ids[i]) for i in history) or "(empty: profile only)",
                    "target": d.item_ids[inst.targets[k]],
                }
                if inst.candidates is not None:
                    shown = inst.candidates[k, 1 : 1 + n_candidates]
                    row[f"negatives (first of {inst.candidates.shape[1] - 1})"] = " ".join(
                        str(d.item_ids[i]) for i in shown)
                rows.append(row)
        if not rows:
            raise ValueError(f"user {user} is not a cold user of this split")
        return pd.DataFrame(rows)

    # persistence -------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        arrays = {
            "warm_users": self.warm_users, "tune_users": self.tune_users,
            "val_users": self.val_users, "test_users": self.test_users, "heldout_users": self.heldout_users,
            "n_interactions": np.array([self.data.n_interactions]),
            "fingerprint": np.array([self.data.fingerprint()]),
        }
        for name, inst in self.sets.items():
            arrays[f"{name}.users"] = inst.users
            arrays[f"{name}.positions"] = inst.positions
            arrays[f"{name}.targets"] = inst.targets
            if inst.candidates is not None:
                arrays[f"{name}.candidates"] = inst.candidates
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: Path, data: InteractionData, config: ProtocolConfig) -> ColdStartSplit:
        """Read a split saved by :meth:`save` for ``data`` (already truncated, if simulated)."""
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        if int(arrays["n_interactions"][0]) != data.n_interactions:
            raise ValueError(f"{path}: split was saved for other data ({int(arrays['n_interactions'][0])} interactions)")
        if "fingerprint" in arrays and str(arrays["fingerprint"][0]) != data.fingerprint():
            raise ValueError(f"{path}: split was saved for other data (fingerprint {arrays['fingerprint'][0]}, "
                             f"this data has {data.fingerprint()})")
        sets = {}
        for name in {k.split(".")[0] for k in arrays if "." in k}:
            sets[name] = Instances(
                arrays[f"{name}.users"], arrays[f"{name}.positions"], arrays[f"{name}.targets"],
                arrays.get(f"{name}.candidates"),
            )
        return cls(data, config, arrays["warm_users"], arrays["tune_users"], arrays["val_users"],
                   arrays["test_users"], sets,
                   heldout_users=arrays.get("heldout_users", np.zeros(0, dtype=np.int64)))


def simulate_cold_users(data: InteractionData, share: float, threshold: int,
                        rng: np.random.Generator) -> InteractionData:
    """Truncate a random ``share`` of users to their first ``L ~ U{1..threshold-1}`` clicks."""
    n_cold = int(round(share * data.n_users))
    chosen = rng.choice(data.n_users, size=n_cold, replace=False)
    keep_len = data.lengths.copy()
    keep_len[chosen] = np.minimum(rng.integers(1, threshold, size=n_cold), data.lengths[chosen])
    position = np.arange(data.n_interactions) - data.offsets[data.users]
    return data.subset(position < keep_len[data.users], name=data.name)


def split(data: InteractionData, config: ProtocolConfig | None = None) -> ColdStartSplit:
    """Apply the protocol to ``data`` (same data and config -> identical split)."""
    config = config or ProtocolConfig()
    rng = np.random.default_rng(config.seed)
    full = data  # negatives must be items the user never clicked, truncated clicks included
    if config.simulate_cold_share > 0:
        data = simulate_cold_users(data, config.simulate_cold_share, config.cold_threshold, rng)

    lengths = data.lengths
    heldout = np.asarray(data.meta.get("heldout_users", np.zeros(0, dtype=np.int64)), dtype=np.int64)
    pool = np.ones(data.n_users, dtype=bool)
    pool[heldout] = False  # held-out users are test users only: never warm, never tuned on
    warm = np.flatnonzero(pool & (lengths >= config.cold_threshold))
    cold = np.flatnonzero(pool & (lengths < config.cold_threshold) & (lengths > 0))
    if len(cold) < MIN_COLD_USERS:
        if config.simulate_cold_share > 0:
            advice = (f"simulate_cold_share={config.simulate_cold_share} of {full.n_users} users gives "
                      f"{len(cold)}; use data with more users")
        else:
            advice = "set simulate_cold_share for data without them"
        raise ValueError(
            f"{data.name}: only {len(cold)} users have fewer than {config.cold_threshold} clicks; the cold-start "
            f"protocol needs at least {MIN_COLD_USERS} cold users ({advice})"
        )
    if len(warm) < 10:
        raise ValueError(f"{data.name}: only {len(warm)} users have {config.cold_threshold} clicks or more (warm "
                         "users); pre-training needs at least 10 of them")
    _check_catalogue(full, config)

    cold = rng.permutation(cold)
    n_test = max(1, int(round(config.test_share * len(cold))))
    test_users, tuning = np.sort(cold[:n_test]), cold[n_test:]
    n_val = max(1, int(round(config.val_share * len(tuning))))
    val_users, tune_users = np.sort(tuning[:n_val]), np.sort(tuning[n_val:])
    multi = int((lengths[cold] >= 2).sum())
    for role, group in (("test", test_users), ("tuning", tune_users), ("validation", val_users)):
        if not (lengths[group] >= 2).any():
            raise ValueError(
                f"{data.name}: each of the {len(group)} cold {role} user(s) has a single click, so there is no "
                f"few-shot {role} instance (a click after at least one earlier click); {multi} of {len(cold)} cold "
                f"users have 2 to {config.cold_threshold - 1} clicks, and the few-shot steps need such users in "
                "the tuning, validation and test groups")

    sets = {
        "tune": _user_instances(data, tune_users),
        "val": _user_instances(data, val_users),
        "test": _user_instances(data, test_users),
        **_warm_sets(data, warm),
    }
    _add_candidates(full, sets, ("val", "test", "warm_val", "warm_test"), config, rng)
    if len(heldout):
        if (lengths[heldout] >= config.cold_threshold).any() or (lengths[heldout] == 0).any():
            raise ValueError(f"{data.name}: held-out test users must be cold (1 to {config.cold_threshold - 1} clicks)")
        one_click = np.asarray(data.meta.get("zero_shot_users", np.zeros(0, dtype=np.int64)), dtype=np.int64)
        groups = {"heldout": np.setdiff1d(heldout, one_click), "heldout_zero": one_click}
        # each its own random stream: the other sets' candidates do not depend on their number
        for stream, (name, users) in enumerate(groups.items(), start=1):
            if len(users):
                sets[name] = _user_instances(data, users)
                _add_candidates(full, sets, (name,), config, np.random.default_rng([config.seed, stream]))
    return ColdStartSplit(data, config, warm, tune_users, val_users, test_users, sets,
                          full if full is not data else None, heldout_users=heldout)


def _check_catalogue(data: InteractionData, config: ProtocolConfig) -> None:
    """Every evaluated click is ranked against ``n_negatives`` items its user never clicked:
    the catalogue must leave that many to every user."""
    n = config.n_negatives
    if data.n_items <= n:
        raise ValueError(
            f"{data.name}: the catalogue has {data.n_items} items, but every evaluated click is ranked against "
            f"{n} items its user never clicked: the protocol needs data with more than {n} items "
            f"(plus each user's own clicks), or fewer negatives (ProtocolConfig.n_negatives)")
    clicked = np.bincount(data.clicked_keys() // (data.n_items + 1), minlength=data.n_users)
    short = np.flatnonzero(data.n_items - clicked < n)
    if len(short):
        worst = short[np.argmax(clicked[short])]
        raise ValueError(
            f"{data.name}: {len(short)} user(s) clicked so many of the {data.n_items} items that fewer than {n} "
            f"unclicked ones remain as negatives (e.g. user {data.user_ids[worst]!r} clicked {clicked[worst]}); "
            f"the protocol needs a catalogue with more than {n} items that each user has not clicked")


def _warm_sets(data: InteractionData, warm: np.ndarray) -> dict[str, Instances]:
    """Leave-one-out instances of warm users: the last click is the test target, the one
    before it the validation target."""
    last = data.lengths[warm] - 1
    return {"warm_val": Instances(warm, last - 1, data.items[data.offsets[warm] + last - 1]),
            "warm_test": Instances(warm, last, data.items[data.offsets[warm] + last])}


def _add_candidates(full: InteractionData, sets: dict, names, config: ProtocolConfig, rng) -> None:
    for name in names:
        inst = sets[name]
        negatives = sample_negatives(full, inst.users, config.n_negatives, rng)
        inst.candidates = np.concatenate([inst.targets[:, None], negatives], axis=1)


def leave_one_out(data: InteractionData, config: ProtocolConfig | None = None) -> ColdStartSplit:
    """The usual protocol of sequential recommendation, without cold users: every user with
    at least three clicks trains on all but the last two, is validated on the second last and
    tested on the last (as RecBole's ``LS`` split). The cold sets are empty."""
    config = config or ProtocolConfig()
    rng = np.random.default_rng(config.seed)
    warm = np.flatnonzero(data.lengths >= 3)
    if len(warm) < 10:
        raise ValueError(f"{data.name}: only {len(warm)} users have three clicks or more")
    empty = np.zeros(0, dtype=np.int64)
    sets = {name: Instances(empty, empty, empty) for name in ("tune", "val", "test")}
    sets.update(_warm_sets(data, warm))
    _add_candidates(data, sets, ("warm_val", "warm_test"), config, rng)
    return ColdStartSplit(data, config, warm, empty, empty, empty, sets)
