"""The embedded default data: a seeded generator of users, profiles and click sequences.

The generator gives the method something real to find and lets the book switch each effect
off. A user's clicks come from two sources:

* **static preference** (``profile_signal``): items belong to latent groups; a user's mix of
  groups comes partly from their profile (each field value pushes the mix in its own
  direction) and partly from chance. At ``profile_signal = 0`` the mix ignores the profile.
  The additive profile model of fine-tuning (u_a) can capture this on its own.
* **sequential behaviour** (``sequential_strength``, ``profile_style_signal``): with
  probability ``sequential_strength`` the next click is one of a few *successors* of the
  previous item, otherwise it is drawn from the static mix. Successor maps come in
  ``n_styles`` styles (each style sends an item to a different group). Which style a user
  follows comes from their profile with probability ``profile_style_signal``, otherwise at
  random. Only a model that lets the profile change how the *sequence* is read (a prompt
  inside the attention) can use this; an additive u_a cannot, because it does not see the
  previous item. At ``sequential_strength = 0`` the next click ignores the previous one; at
  ``profile_style_signal = 0`` the style ignores the profile.

Item popularity within a group follows a Zipf law with exponent ``popularity_skew`` (0 =
uniform). Sequence lengths are log-normal (heavy tail) with the location chosen so that a
share ``cold_share`` of users has fewer than ``cold_threshold`` clicks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import numpy as np

from pprlib.data.schema import MISSING, InteractionData, check_dataset

# Profile schemas: field -> value labels. "cikm" mirrors CIKM 2019 (3 fields),
# "aliec" mirrors the Taobao display-ad user profile (8 fields).
PROFILE_SCHEMAS: dict[str, dict[str, list[str]]] = {
    "cikm": {
        "gender": ["F", "M"],
        "age": ["<18", "18-24", "25-29", "30-34", "35-39", "40-49", "50-59", "60+"],
        "purchase_power": ["1", "2", "3", "4", "5"],
    },
    "aliec": {
        "cms_segid": [str(i) for i in range(8)],
        "cms_group_id": [str(i) for i in range(13)],
        "final_gender_code": ["1", "2"],
        "age_level": [str(i) for i in range(7)],
        "pvalue_level": ["1", "2", "3"],
        "shopping_level": ["1", "2", "3"],
        "occupation": ["0", "1"],
        "new_user_class_level": ["1", "2", "3", "4"],
    },
}

KNOBS: dict[str, str] = {
    "n_users / n_items": "size of the data",
    "profile": "profile schema: 'cikm' (gender, age, purchase power) or 'aliec' (eight fields)",
    "profile_signal": "how much the profile decides which item groups a user likes (0 = not at all)",
    "preference_sharpness": "how concentrated a user's group preference is",
    "sequential_strength": "probability that the next click is a successor of the previous one (0 = no sequential effect)",
    "n_styles": "number of transition styles (successor maps)",
    "profile_style_signal": "probability that a user's transition style comes from the profile (0 = style ignores the profile)",
    "n_successors": "successors per item in each style",
    "popularity_skew": "Zipf exponent of item popularity within a group (0 = uniform)",
    "profile_missing_rate": "share of profile values recorded as missing",
    "cold_share": "expected share of users with fewer than cold_threshold clicks",
    "length_sigma": "spread of the log-normal sequence lengths (heavier tail when larger)",
    "heldout_users": "extra cold users from the same world, used only as test users (never pre-trained or tuned on)",
    "zero_shot_users": "extra held-out users with one click each: zero-shot test instances only",
}

BASE_TIME = 1_577_836_800  # 2020-01-01 00:00:00 UTC


def _unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"SyntheticConfig.{name} must lie in [0, 1], got {value!r}")


def _at_least(name: str, value: int, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"SyntheticConfig.{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class SyntheticConfig:
    """Every knob of the generator; the defaults are the book's ``default`` data."""

    n_users: int = 6000
    n_items: int = 1000
    profile: Literal["cikm", "aliec"] = "cikm"
    n_groups: int = 12
    profile_signal: float = 0.8
    preference_sharpness: float = 2.0
    sequential_strength: float = 0.6
    n_styles: int = 4
    profile_style_signal: float = 0.8
    n_successors: int = 3
    popularity_skew: float = 1.0
    profile_missing_rate: float = 0.02
    cold_share: float = 0.25
    cold_threshold: int = 10
    length_sigma: float = 1.0
    max_length: int = 200
    mean_gap_seconds: float = 3600.0
    heldout_users: int = 0
    # extra held-out users with a single click each (after the held-out cold users): zero-shot
    # test instances only, the cheap way to test zero-shot claims on many first clicks
    zero_shot_users: int = 0
    seed: int = 0
    name: str = field(default="synthetic", metadata={"cosmetic": True})

    def __post_init__(self) -> None:
        if self.profile not in PROFILE_SCHEMAS:
            raise ValueError(
                f"SyntheticConfig.profile must be one of {sorted(PROFILE_SCHEMAS)}, got {self.profile!r}"
            )
        _at_least("n_users", self.n_users, 2)
        _at_least("n_items", self.n_items, 2)
        _at_least("n_groups", self.n_groups, 1)
        _at_least("n_styles", self.n_styles, 1)
        _at_least("n_successors", self.n_successors, 1)
        _at_least("cold_threshold", self.cold_threshold, 2)
        _at_least("max_length", self.max_length, self.cold_threshold)
        for name in ("heldout_users", "zero_shot_users"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"SyntheticConfig.{name} must be an integer >= 0, got {value!r}")
        if self.max_length >= self.n_items:
            raise ValueError(
                f"SyntheticConfig.max_length ({self.max_length}) must be below n_items ({self.n_items}) "
                "so that every user leaves unclicked items to sample negatives from"
            )
        if self.n_items < self.n_groups:
            raise ValueError(f"SyntheticConfig.n_items ({self.n_items}) must be >= n_groups ({self.n_groups})")
        for name in ("profile_signal", "sequential_strength", "profile_style_signal", "profile_missing_rate"):
            _unit(name, getattr(self, name))
        if not 0.0 < self.cold_share < 1.0:
            raise ValueError(f"SyntheticConfig.cold_share must lie in (0, 1), got {self.cold_share!r}")
        for name in ("preference_sharpness", "popularity_skew"):
            if getattr(self, name) < 0:
                raise ValueError(f"SyntheticConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("length_sigma", "mean_gap_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SyntheticConfig.{name} must be > 0, got {getattr(self, name)!r}")

    @property
    def fields(self) -> dict[str, list[str]]:
        return PROFILE_SCHEMAS[self.profile]


def knob_table(cfg: SyntheticConfig):
    """The generator's knobs, their values in ``cfg`` and what each does."""
    import pandas as pd

    rows = []
    for knob, text in KNOBS.items():
        names = [n.strip() for n in knob.split("/")]
        value = " / ".join(str(getattr(cfg, n)) for n in names)
        rows.append({"knob": knob, "value": value, "what it does": text})
    return pd.DataFrame(rows).set_index("knob")


def _field_effects(rng: np.random.Generator, cfg: SyntheticConfig, dim: int) -> list[np.ndarray]:
    """One random direction (of size ``dim``) per value of every profile field."""
    return [rng.standard_normal((len(values), dim)) for values in cfg.fields.values()]


def _profile_sum(effects: list[np.ndarray], codes: np.ndarray) -> np.ndarray:
    total = sum(table[codes[:, j]] for j, table in enumerate(effects))
    return total / np.sqrt(len(effects))


def _sample_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix (inverse CDF)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((len(probs), 1)) * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1)


def _items(rng: np.random.Generator, n_items: int, n_groups: int, skew: float):
    """Items in groups of (almost) equal size, Zipf popularity inside each group."""
    item_group = rng.permutation(np.arange(n_items) % n_groups)  # item index 0..n_items-1 -> group
    popularity = rng.permutation(np.arange(1, n_items + 1)).astype(float) ** -skew
    group_items = [np.flatnonzero(item_group == g) for g in range(n_groups)]
    group_cdf = [np.cumsum(popularity[items]) / popularity[items].sum() for items in group_items]
    return item_group, popularity, group_items, group_cdf


def _successor_maps(rng: np.random.Generator, n_styles: int, n_successors: int, popularity: np.ndarray,
                    group_items: list[np.ndarray]) -> np.ndarray:
    """Style k sends an item of group g to ``n_successors`` items of group perm_k[g]."""
    n_g = len(group_items)
    successors = np.empty((n_styles, len(popularity), n_successors), dtype=np.int64)
    for k in range(n_styles):
        target_group = rng.permutation(n_g)
        for g in range(n_g):
            src = group_items[g]
            dst = group_items[target_group[g]]
            p = popularity[dst] / popularity[dst].sum()
            replace = len(dst) < n_successors
            for i in src:
                successors[k, i] = rng.choice(dst, size=n_successors, replace=replace, p=p)
    return successors


def _lengths(rng: np.random.Generator, n: int, cold_share: float, cold_threshold: int, sigma: float,
             max_length: int) -> np.ndarray:
    """Log-normal sequence lengths with P(length < cold_threshold) = cold_share."""
    z = NormalDist().inv_cdf(cold_share)
    mu = np.log(cold_threshold - 0.5) - sigma * z
    lengths = np.rint(np.exp(mu + sigma * rng.standard_normal(n))).astype(np.int64)
    return np.clip(lengths, 1, max_length)


def _clicks(rng: np.random.Generator, theta: np.ndarray, style: np.ndarray, lengths: np.ndarray,
            group_items: list[np.ndarray], group_cdf: list[np.ndarray], successors: np.ndarray,
            sequential_strength: float, max_length: int) -> np.ndarray:
    """Click sequences (n_users, max_length), one time step for all users at once: a successor
    of the previous click with probability ``sequential_strength``, else a draw from the mix."""
    n_successors = successors.shape[2]
    seqs = np.zeros((len(theta), max_length), dtype=np.int64)
    for t in range(int(lengths.max())):
        active = np.flatnonzero(lengths > t)
        group = _sample_rows(rng, theta[active])
        static_items = np.empty(len(active), dtype=np.int64)
        for g in np.unique(group):
            rows = np.flatnonzero(group == g)
            pick = np.searchsorted(group_cdf[g], rng.random(len(rows)) * group_cdf[g][-1])
            static_items[rows] = group_items[g][np.minimum(pick, len(group_items[g]) - 1)]
        if t > 0:
            follow = rng.random(len(active)) < sequential_strength
            prev = seqs[active, t - 1]
            nxt = successors[style[active], prev, rng.integers(n_successors, size=len(active))]
            static_items = np.where(follow, nxt, static_items)
        seqs[active, t] = static_items
    return seqs


def _softmax(logits: np.ndarray) -> np.ndarray:
    theta = np.exp(logits - logits.max(axis=1, keepdims=True))
    return theta / theta.sum(axis=1, keepdims=True)


def _timestamps(rng: np.random.Generator, lengths: np.ndarray, mean_gap: float, start: int) -> np.ndarray:
    """Each user starts within 90 days of ``start``; exponential gaps between clicks."""
    gaps = rng.exponential(mean_gap, size=int(lengths.sum())).astype(np.int64) + 1
    starts = start + rng.integers(0, 90 * 86_400, size=len(lengths))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    cum = np.cumsum(gaps)
    within = cum - np.repeat(cum[offsets[:-1]] - gaps[offsets[:-1]], lengths)
    return np.repeat(starts, lengths) + within


def _cold_lengths(rng: np.random.Generator, n: int, cfg: SyntheticConfig) -> np.ndarray:
    """``n`` lengths from the population's law conditioned on being cold (< ``cold_threshold``)."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        draw = _lengths(rng, max(2 * n, 64), cfg.cold_share, cfg.cold_threshold, cfg.length_sigma, cfg.max_length)
        out = np.concatenate([out, draw[draw < cfg.cold_threshold]])
    return out[:n]


def generate(cfg: SyntheticConfig | None = None) -> InteractionData:
    """Generate the dataset described by ``cfg`` (same config -> identical data).

    With ``cfg.heldout_users = m`` the data ends with ``m`` extra users (codes ``n_users`` to
    ``n_users + m - 1``, listed in ``meta["heldout_users"]``): cold users of the same world
    (same items, group effects, successor maps and profile effects; lengths drawn from the
    population's law given that they are below ``cold_threshold``), from a random stream of
    their own, so the first ``n_users`` users are exactly those of ``heldout_users = 0``. The
    protocol keeps them out of pre-training and tuning: they are test users only.

    With ``cfg.zero_shot_users = z`` the last ``z`` users (``meta["zero_shot_users"]``, also in
    ``meta["heldout_users"]``) are held-out users of one click each, from a third stream: a
    first click is drawn from the user's preference alone, whatever the user's length, so
    their clicks follow the law of every cold user's first click, and they add zero-shot test
    instances without few-shot ones. Neither the first ``n_users`` users nor the held-out cold
    users depend on ``z``."""
    cfg = cfg or SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    fields = cfg.fields
    n_u, n_i, n_g, n_k = cfg.n_users, cfg.n_items, cfg.n_groups, cfg.n_styles

    # profiles: each field with its own (non-uniform) marginal distribution
    marginals, columns = [], []
    for v in fields.values():
        marginals.append(rng.dirichlet(np.full(len(v), 2.0)))
        columns.append(rng.choice(len(v), size=n_u, p=marginals[-1]))
    true_codes = np.stack(columns, axis=1)
    item_group, popularity, group_items, group_cdf = _items(rng, n_i, n_g, cfg.popularity_skew)

    # static preference over groups: profile part and random part
    preference_effects = _field_effects(rng, cfg, n_g)
    s = cfg.profile_signal

    def mix(codes, random_part):
        profile_part = _profile_sum(preference_effects, codes)
        return _softmax(cfg.preference_sharpness * (np.sqrt(s) * profile_part + np.sqrt(1 - s) * random_part))

    theta = mix(true_codes, rng.standard_normal((n_u, n_g)))

    # transition style: from the profile with probability profile_style_signal
    style_effects = _field_effects(rng, cfg, n_k)
    profile_style = _profile_sum(style_effects, true_codes).argmax(axis=1)
    random_style = rng.integers(n_k, size=n_u)
    style = np.where(rng.random(n_u) < cfg.profile_style_signal, profile_style, random_style)

    successors = _successor_maps(rng, n_k, cfg.n_successors, popularity, group_items)
    lengths = _lengths(rng, n_u, cfg.cold_share, cfg.cold_threshold, cfg.length_sigma, cfg.max_length)
    seqs = _clicks(rng, theta, style, lengths, group_items, group_cdf, successors, cfg.sequential_strength,
                   cfg.max_length)

    # observed profiles: some values missing (code 0); labels get code = index + 1
    observed = true_codes + 1
    observed[rng.random(observed.shape) < cfg.profile_missing_rate] = 0
    timestamps = _timestamps(rng, lengths, cfg.mean_gap_seconds, BASE_TIME)

    def extra_users(stream: int, m: int, lengths_of):
        """``m`` more users of the same world from random stream ``[seed, stream]``, with
        lengths ``lengths_of(rng, m)``: the same draws, in the same order, as the first ones."""
        hr = np.random.default_rng([cfg.seed, stream])
        codes = np.stack([hr.choice(len(p), size=m, p=p) for p in marginals], axis=1)
        h_theta = mix(codes, hr.standard_normal((m, n_g)))
        h_profile_style = _profile_sum(style_effects, codes).argmax(axis=1)
        h_style = np.where(hr.random(m) < cfg.profile_style_signal, h_profile_style, hr.integers(n_k, size=m))
        h_lengths = lengths_of(hr, m)
        h_seqs = _clicks(hr, h_theta, h_style, h_lengths, group_items, group_cdf, successors,
                         cfg.sequential_strength, cfg.max_length)
        h_observed = codes + 1
        h_observed[hr.random(h_observed.shape) < cfg.profile_missing_rate] = 0
        return (codes, h_theta, h_profile_style, h_style, h_lengths, h_seqs, h_observed,
                _timestamps(hr, h_lengths, cfg.mean_gap_seconds, BASE_TIME))

    # the held-out cold users, then the held-out one-click users: same world, their own streams
    blocks = [extra_users(1, cfg.heldout_users, lambda r, m: _cold_lengths(r, m, cfg))] if cfg.heldout_users else []
    if cfg.zero_shot_users:
        blocks.append(extra_users(2, cfg.zero_shot_users, lambda r, m: np.ones(m, dtype=np.int64)))
    if blocks:
        parts = [(true_codes, theta, profile_style, style, lengths, seqs, observed, timestamps), *blocks]
        (true_codes, theta, profile_style, style, lengths, seqs, observed,
         timestamps) = (np.concatenate(column) for column in zip(*parts, strict=True))
    n_all = len(lengths)

    mask = np.arange(cfg.max_length)[None, :] < lengths[:, None]
    users = np.repeat(np.arange(n_all), lengths)
    items = seqs[mask] + 1  # item codes start at 1; 0 is padding
    meta = {
        "generator": cfg,
        # ground truth, for tests and for the book's explanations (indices: item code - 1)
        "latent": {
            "item_group": item_group,
            "theta": theta,
            "style": style,
            "profile_style": profile_style,
            "true_profiles": true_codes + 1,
            "successors": successors + 1,
            # the world's parameters, for the ceilings (pprlib.data.ceilings)
            "field_marginals": marginals,
            "preference_effects": preference_effects,
            "style_effects": style_effects,
            "popularity": popularity,
        },
    }
    if cfg.heldout_users or cfg.zero_shot_users:
        meta["heldout_users"] = np.arange(n_u, n_all)  # both kinds: test users only
    if cfg.zero_shot_users:
        meta["zero_shot_users"] = np.arange(n_all - cfg.zero_shot_users, n_all)

    data = InteractionData(
        name=cfg.name,
        profile_fields=list(fields),
        vocab={f: [MISSING, *values] for f, values in fields.items()},
        profiles=observed,
        user_ids=np.asarray([f"u{u}" for u in range(n_u)] + [f"h{u}" for u in range(cfg.heldout_users)]
                            + [f"z{u}" for u in range(cfg.zero_shot_users)], dtype=object),
        item_ids=np.asarray([None, *(f"i{i}" for i in range(1, n_i + 1))], dtype=object),
        users=users,
        items=items,
        timestamps=timestamps,
        meta=meta,
    )
    return check_dataset(data)


# ------------------------------------------------------------------------------------------
# two domains: the cross-domain study


@dataclass(frozen=True)
class TargetDomainConfig:
    """The second domain of :func:`generate_two_domains`.

    A share ``user_share`` of the source users also click in the target domain, on a disjoint
    item set of ``n_items`` items with the same number of latent groups. A user's taste over
    the target groups follows their source taste with weight ``taste_link`` (0 = unrelated,
    1 = the same mix), and they keep their transition style (the target has its own successor
    maps). Target histories are short: a share ``cold_share`` has fewer than the source's
    ``cold_threshold`` clicks.
    """

    n_items: int = 500
    user_share: float = 0.6
    taste_link: float = 0.8
    cold_share: float = 0.7
    length_sigma: float = 0.8
    max_length: int = 100
    seed: int = 1
    name: str = field(default="synthetic-target", metadata={"cosmetic": True})

    def __post_init__(self) -> None:
        _at_least("n_items", self.n_items, 2)
        _unit("taste_link", self.taste_link)
        for name in ("user_share", "cold_share"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0 and not (name == "user_share" and value == 1.0):
                raise ValueError(f"TargetDomainConfig.{name} must lie in (0, 1], got {value!r}")
        if self.length_sigma <= 0:
            raise ValueError(f"TargetDomainConfig.length_sigma must be > 0, got {self.length_sigma!r}")
        _at_least("max_length", self.max_length, 2)
        if self.max_length >= self.n_items:
            raise ValueError(f"TargetDomainConfig.max_length ({self.max_length}) must be below n_items "
                             f"({self.n_items})")


def generate_two_domains(source: SyntheticConfig | None = None,
                         target: TargetDomainConfig | None = None) -> tuple[InteractionData, InteractionData]:
    """A source domain (exactly :func:`generate` of ``source``) and a target domain whose users
    are a subset of the source users (same ids and profiles; not the one-click held-out users of
    ``zero_shot_users``) clicking on other items.

    What links the domains is the user's latent taste, not the profile alone: the target
    preference mixes the user's whole source preference (profile part *and* individual part)
    with fresh noise, so a model of the user's source clicks knows more about their target
    taste than their profile does.
    """
    source = source or SyntheticConfig()
    target = target or TargetDomainConfig()
    if target.n_items < source.n_groups:
        raise ValueError(f"TargetDomainConfig.n_items ({target.n_items}) must be >= n_groups ({source.n_groups})")
    src = generate(source)
    latent = src.meta["latent"]
    rng = np.random.default_rng([source.seed, target.seed, 2])
    n_u = src.n_users - source.zero_shot_users  # the one-click held-out users have no target-domain life
    users = np.sort(rng.choice(n_u, size=max(2, int(round(target.user_share * n_u))), replace=False))

    _, popularity, group_items, group_cdf = _items(rng, target.n_items, source.n_groups, source.popularity_skew)
    base = np.log(latent["theta"][users])
    base -= base.mean(axis=1, keepdims=True)
    fresh = source.preference_sharpness * rng.standard_normal(base.shape)
    theta = _softmax(np.sqrt(target.taste_link) * base + np.sqrt(1 - target.taste_link) * fresh)
    style = latent["style"][users]
    successors = _successor_maps(rng, source.n_styles, source.n_successors, popularity, group_items)
    lengths = _lengths(rng, len(users), target.cold_share, source.cold_threshold, target.length_sigma,
                       target.max_length)
    seqs = _clicks(rng, theta, style, lengths, group_items, group_cdf, successors, source.sequential_strength,
                   target.max_length)

    mask = np.arange(target.max_length)[None, :] < lengths[:, None]
    data = InteractionData(
        name=target.name,
        profile_fields=list(src.profile_fields),
        vocab=dict(src.vocab),
        profiles=src.profiles[users].copy(),
        user_ids=src.user_ids[users].copy(),
        item_ids=np.asarray([None, *(f"t{i}" for i in range(1, target.n_items + 1))], dtype=object),
        users=np.repeat(np.arange(len(users)), lengths),
        items=seqs[mask] + 1,
        timestamps=_timestamps(rng, lengths, source.mean_gap_seconds, BASE_TIME + 120 * 86_400),
        meta={
            "generator": (source, target),
            "latent": {"source_users": users, "theta": theta, "style": style, "successors": successors + 1},
        },
    )
    return src, check_dataset(data)
