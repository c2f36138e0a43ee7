"""Effects, intervals, power and verdicts for paired comparisons over seeds and test instances.

A comparison is method A against a reference B on the same test instances, once per training
seed: arrays ``a`` and ``b`` of shape ``(seeds, instances)``. The paired differences
``d[s, i] = a[s, i] - b[s, i]`` follow a crossed random-effects model

    d[s, i] = mu + seed[s] + instance[i] + residual[s, i]

(variances ``seed_var``, ``instance_var``, ``residual_var``): training randomness moves every
instance of a seed together, and an instance that is easy for A is easy in every seed. The
effect is the mean of ``d``; its variance is

    seed_var / S + instance_var / I + residual_var / (S I).

**Interval.** The three variances are estimated from the two-way analysis of variance of ``d``
(mean squares of seeds, instances and residual; the unbiased method-of-moments estimate, which
is the REML estimate for this balanced design when it is not truncated). The 95 % interval is
``mean ± t * SE`` with Satterthwaite's degrees of freedom, computed with a conservative
(upper 75 %) bound of the seed mean square. With 3-5 seeds and a seed spread that matters,
those degrees of freedom fall towards ``S - 1`` and the t quantile widens the interval
accordingly: the small-seed correction that a bootstrap over seeds lacks (a bootstrap
over three seed means is about their min-max range and covers far less than 95 %). An interval
from instances alone (a t-test over seed-averaged instances) ignores ``seed_var`` and is too
narrow whenever seeds disagree. The coverage of both is checked by simulation in the tests.

**Minimum detectable effect** (80 % power, two-sided 5 % level): ``(t_{0.975} + t_{0.80}) * SE``
with the interval's degrees of freedom (about 2.8 SE with many).

**Verdicts** against the paper's effect ``delta`` (> 0, in the claimed direction, in our units),
from the interval ``[lo, hi]``: see :func:`verdict`.

No resampling is involved: every result is a deterministic function of the input arrays.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy import stats

LEVEL = 0.95
POWER = 0.80
DF_BOUND = 0.75
"""The one-sided bound of the seed mean square used for the degrees of freedom (see
:func:`standard_error`)."""

REPRODUCED = "reproduced"
STRONGER = "stronger than claimed"
WEAKER = "weaker than claimed"
NOT_FOUND = "not found"
OPPOSITE = "opposite"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"
VERDICTS = (REPRODUCED, STRONGER, WEAKER, NOT_FOUND, OPPOSITE, INCONCLUSIVE, NOT_COMPARABLE)
MIXED = "the paper is mixed"
"""Shown instead of a verdict where the paper itself does not make the claim (not scored)."""

METHOD = ("95 % intervals account for both training seeds and test instances: the variance of the "
          "mean paired difference is split into a seed part, an instance part and a residual "
          "(two-way analysis of variance), and the interval uses Student's t with Satterthwaite's "
          "degrees of freedom, so that with few seeds it widens as it should.")
"""The interval method in plain words, for the book (stated once)."""


@dataclass(frozen=True)
class Effect:
    """A paired effect of A over B with its uncertainty (NaN where it does not exist)."""

    estimate: float  # mean of A - B over seeds and instances
    reference_mean: float  # mean of B
    se: float
    df: float
    lo: float
    hi: float
    p: float  # two-sided, against no difference
    mde: float  # minimum detectable effect at POWER and 1 - level
    n_seeds: int
    n_instances: int
    seed_var: float
    instance_var: float
    residual_var: float
    level: float = LEVEL
    power: float = POWER
    dropped: int = 0  # instances left out for a non-finite value
    note: str = ""

    @property
    def relative(self) -> float:
        """The effect relative to B's mean (0.01 = +1 %)."""
        return self.estimate / self.reference_mean if self.reference_mean else math.nan

    @property
    def relative_interval(self) -> tuple[float, float]:
        """The interval relative to B's mean (B's mean taken as known)."""
        r = self.reference_mean
        return (self.lo / r, self.hi / r) if r else (math.nan, math.nan)

    def as_dict(self) -> dict:
        """Plain Python values (NaN as None): what a notebook glues and :meth:`from_dict` reads."""
        def plain(v):
            if isinstance(v, (bool, str)) or v is None:
                return v
            if isinstance(v, (int, np.integer)):
                return int(v)
            v = float(v)
            return v if math.isfinite(v) else None

        return {k: plain(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> Effect:
        """The effect :meth:`as_dict` wrote (None back to NaN); unknown keys are ignored."""
        out = {}
        for f in fields(cls):
            if f.name in values:
                v = values[f.name]
                out[f.name] = math.nan if v is None else v
        return cls(**out)

    def text(self, digits: int = 4) -> str:
        """``+0.0012 [-0.0003, +0.0027]`` (:func:`interval_text`)."""
        return interval_text(self.estimate, self.lo, self.hi, digits)


def interval_text(estimate, lo, hi, digits: int = 4) -> str:
    """An effect and its interval as the book prints them: ``+0.0012 [-0.0003, +0.0027]``; the
    estimate alone where there is no interval (``+0.0012 [no interval]``), "—" where there is
    no estimate."""
    if estimate is None or not math.isfinite(estimate):
        return "—"
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{estimate:+.{digits}f} [no interval]"
    return f"{estimate:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


P_FLOOR = 0.001
"""p-values below this are shown as "< 0.001"."""


def format_p(p, equals: bool = False) -> str:
    """A p-value as every table and sentence of the book shows it: three decimals, "< 0.001"
    below :data:`P_FLOOR`, "—" where there is none; ``equals`` prefixes "= " to an exact value
    (for prose: "p = 0.280", "p < 0.001")."""
    if p is None or not math.isfinite(float(p)):
        return "—"
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a p-value lies in [0, 1], got {p}")
    if p < P_FLOOR:
        return f"< {P_FLOOR:g}"
    return f"= {p:.3f}" if equals else f"{p:.3f}"


def format_mde(value) -> str:
    """A minimum detectable effect (or any difference's size) with four decimals, "—" if none."""
    return f"{float(value):.4f}" if value is not None and math.isfinite(float(value)) else "—"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_number(value, digits: int = 4) -> str:
    """Any number as a table cell or sentence shows it: from ``10 ** (digits - 1)`` up, a whole
    number with thousands separators; below, ``digits`` significant digits (so a count is "62",
    never "62.0"); under 0.001, "1.9 × 10⁻⁵" rather than "1.92e-05". A truth value is shown as
    "yes" / "no", text as it is, a missing value as "—"."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if value is None or isinstance(value, str):
        return "—" if value is None else value
    v = float(value)
    if not math.isfinite(v):
        return "—"
    if abs(v) >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    if v == 0 or abs(v) >= 1e-3:
        return f"{v:.{digits}g}"
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def _nan_effect(reference_mean: float, n_seeds: int, n_instances: int, dropped: int, note: str,
                level: float, power: float, estimate: float = math.nan) -> Effect:
    nan = math.nan
    return Effect(estimate, reference_mean, nan, nan, nan, nan, nan, nan, n_seeds, n_instances, nan, nan, nan,
                  level, power, dropped, note)


def missing(note: str, reference_mean: float = math.nan) -> Effect:
    """An effect that could not be measured (every number NaN), with ``note`` saying why."""
    return _nan_effect(reference_mean, 0, 0, 0, note, LEVEL, POWER)


def critical_values(df: float, level: float = LEVEL, power: float = POWER) -> tuple[float, float]:
    """(t quantile of the two-sided interval, t quantile of the power) at ``df`` (normal if inf)."""
    dist = stats.norm if not math.isfinite(df) else stats.t(df)
    return float(dist.ppf(0.5 + level / 2)), float(dist.ppf(power))


def mde(se: float, df: float = math.inf, level: float = LEVEL, power: float = POWER) -> float:
    """The smallest true effect a two-sided test at ``1 - level`` detects with ``power``."""
    t_alpha, t_power = critical_values(df, level, power)
    return (t_alpha + t_power) * se


def variance_components(d) -> dict:
    """Mean squares and variance components of ``(..., seeds, instances)`` arrays (S, I >= 2),
    vectorised over the leading axes."""
    d = np.asarray(d, dtype=np.float64)
    S, I = d.shape[-2:]
    grand = d.mean((-2, -1))
    seed_means, inst_means = d.mean(-1), d.mean(-2)
    ms_seed = I * seed_means.var(-1, ddof=1)
    ms_inst = S * inst_means.var(-1, ddof=1)
    resid = d - seed_means[..., :, None] - inst_means[..., None, :] + grand[..., None, None]
    ms_res = (resid ** 2).sum((-2, -1)) / ((S - 1) * (I - 1))
    return {"ms_seed": ms_seed, "ms_instance": ms_inst, "ms_residual": ms_res,
            "seed_var": np.maximum(0.0, (ms_seed - ms_res) / I),
            "instance_var": np.maximum(0.0, (ms_inst - ms_res) / S), "residual_var": ms_res}


def standard_error(d) -> tuple[np.ndarray, np.ndarray]:
    """(SE of the mean, degrees of freedom) of ``(..., seeds, instances)`` differences with
    S, I >= 2: the variance ``(MS_seed + MS_instance - MS_residual) / (S I)`` with Satterthwaite's
    degrees of freedom, computed with MS_seed at the upper end of its one-sided ``DF_BOUND``
    chi-square interval (a small-seed correction: the plain plug-in under-covers, about 92 %
    with three seeds and a dominant seed spread); where that estimate falls below MS_seed / (S I) or MS_instance / (S I)
    (each a lower bound of the true variance in expectation), the larger of the two is used,
    with its own degrees of freedom (S - 1 or I - 1)."""
    d = np.asarray(d, dtype=np.float64)
    S, I = d.shape[-2:]
    comps = variance_components(d)
    a, b, c = comps["ms_seed"], comps["ms_instance"], comps["ms_residual"]
    combined = a + b - c
    # degrees of freedom: Satterthwaite's, with the seed mean square at the upper end of its
    # one-sided 75 % chi-square bound (for the df only, not the SE): plugged in as estimated,
    # the df is too large exactly when the seed spread happens to be underestimated
    a_df = a * (S - 1) / stats.chi2.ppf(1 - DF_BOUND, S - 1)
    combined_df = a_df + b - c
    denominator = a_df ** 2 / (S - 1) + b ** 2 / (I - 1) + c ** 2 / ((S - 1) * (I - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        satterthwaite = np.where(denominator > 0, combined_df ** 2 / denominator, np.inf)
    untruncated = combined >= np.maximum(a, b)
    var = np.where(untruncated, combined, np.maximum(a, b)) / (S * I)
    df = np.where(untruncated, satterthwaite, np.where(a >= b, S - 1, I - 1))
    return np.sqrt(np.maximum(var, 0.0)), np.maximum(df, 1.0)


def effect_of_differences(d, reference_mean: float = math.nan, *, level: float = LEVEL, power: float = POWER,
                          dropped: int = 0) -> Effect:
    """The mean of paired differences ``d`` (seeds x instances, or one seed as a 1-d array) with
    the interval, p-value and MDE of the module's method (:func:`standard_error`). Non-finite
    differences must have been removed (see :func:`paired_effect`). One seed: the interval
    covers instances only (said in ``note``); one value per seed: seeds only."""
    d = np.asarray(d, dtype=np.float64)
    if d.ndim == 1:
        d = d[None, :]
    if d.ndim != 2:
        raise ValueError(f"differences must have shape (seeds, instances), got {d.shape}")
    S, I = d.shape
    if d.size == 0:
        return _nan_effect(reference_mean, S, I, dropped, "no instances to compare", level, power)
    if not np.isfinite(d).all():
        raise ValueError("differences hold non-finite values; use paired_effect, which drops them")
    estimate = float(d.mean())
    nan = math.nan
    if S == 1 and I == 1:
        return _nan_effect(reference_mean, S, I, dropped, "a single value: no uncertainty can be estimated",
                           level, power, estimate)
    if S == 1 or I == 1:
        flat = d.ravel()
        se, df = math.sqrt(flat.var(ddof=1) / flat.size), float(flat.size - 1)
        comps = ({"seed_var": nan, "instance_var": float(flat.var(ddof=1)), "residual_var": nan} if S == 1 else
                 {"seed_var": float(flat.var(ddof=1)), "instance_var": nan, "residual_var": nan})
        note = ("one seed: the interval covers the test instances only, not training randomness" if S == 1 else
                "one value per seed: the interval covers training randomness only")
    else:
        se_, df_ = standard_error(d)
        se, df = float(se_), float(df_)
        comps = {k: float(v) for k, v in variance_components(d).items()}
        note = ""
    t_alpha, _ = critical_values(df, level, power)
    if se > 0:
        p = float(2 * stats.t.sf(abs(estimate) / se, df))
    else:
        p = 1.0 if estimate == 0 else 0.0
        note = (note + "; " if note else "") + "no variation: the interval is a point"
    return Effect(estimate, float(reference_mean), se, df, estimate - t_alpha * se, estimate + t_alpha * se, p,
                  mde(se, df, level, power), S, I, comps["seed_var"], comps["instance_var"], comps["residual_var"],
                  level, power, dropped, note)


def interval(d, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, lo, hi) of ``(..., seeds, instances)`` differences (S, I >= 2), vectorised: the
    interval of :func:`effect_of_differences` for many arrays at once."""
    d = np.asarray(d, dtype=np.float64)
    se, df = standard_error(d)
    mean = d.mean((-2, -1))
    t = stats.t.ppf(0.5 + level / 2, df)
    return mean, mean - t * se, mean + t * se


def paired_effect(a, b, *, level: float = LEVEL, power: float = POWER) -> Effect:
    """The effect of A over B from per-seed, per-instance metrics (same shape: seeds x instances,
    the same instances in the same order for A and B; a 1-d array is one seed). An instance whose
    value is not finite in any seed of A or B is left out (counted in ``dropped``)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a, b = (a[None, :] if a.ndim == 1 else a), (b[None, :] if b.ndim == 1 else b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"A and B must have the same shape (seeds, instances), got {a.shape} and {b.shape}")
    keep = np.isfinite(a).all(0) & np.isfinite(b).all(0)
    reference = float(b[:, keep].mean()) if keep.any() else math.nan
    return effect_of_differences(a[:, keep] - b[:, keep], reference, level=level, power=power,
                                 dropped=int((~keep).sum()))


def instance_only(d, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, lo, hi) of the paired t-interval over seed-averaged instances of ``(..., seeds,
    instances)`` differences: the interval that ignores training randomness (kept to show how
    far it under-covers)."""
    d = np.asarray(d, dtype=np.float64).mean(-2)
    n = d.shape[-1]
    mean, se = d.mean(-1), d.std(-1, ddof=1) / math.sqrt(n)
    t = float(stats.t.ppf(0.5 + level / 2, n - 1))
    return mean, mean - t * se, mean + t * se


def verdict(lo: float, hi: float, delta: float) -> str:
    """The verdict of an interval ``[lo, hi]`` against the paper's effect ``delta > 0``:

    * ``hi < 0``: opposite;
    * ``lo > 0``: stronger than claimed if ``lo > delta`` (significantly larger than the paper's),
      reproduced if ``lo <= delta <= hi`` (a size compatible with the paper's), else weaker
      than claimed;
    * ``lo <= 0 <= hi``: not found if ``hi < delta`` (an effect of the paper's size is ruled
      out), else inconclusive;
    * any value missing (NaN): not comparable.
    """
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (lo, hi, delta)):
        return NOT_COMPARABLE
    if delta <= 0:
        raise ValueError(f"delta is the paper's effect in the claimed direction and must be > 0, got {delta}")
    if lo > hi:
        raise ValueError(f"an interval needs lo <= hi, got [{lo}, {hi}]")
    if hi < 0:
        return OPPOSITE
    if lo > 0:
        return STRONGER if lo > delta else REPRODUCED if hi >= delta else WEAKER
    return NOT_FOUND if hi < delta else INCONCLUSIVE


@dataclass(frozen=True)
class Growth:
    """How much larger a run must be for its MDE to reach ``delta`` (normal quantiles, so a lower
    bound when seeds are few): ``scale`` multiplies both seeds and instances; ``seeds`` is the
    number of seeds needed at the current instances, ``instances`` the number of instances at
    the current seeds (inf: not reachable that way alone)."""

    scale: float
    seeds: float
    instances: float


def growth_needed(effect: Effect, delta: float) -> Growth:
    """The run size at which ``effect``'s MDE (at its level and power) would reach ``delta``."""
    if not (math.isfinite(effect.se) and math.isfinite(delta) and delta > 0):
        return Growth(math.nan, math.nan, math.nan)
    m = sum(critical_values(math.inf, effect.level, effect.power))
    target = (delta / m) ** 2  # the variance of the mean at which MDE = delta
    if effect.se ** 2 <= target:
        return Growth(1.0, float(effect.n_seeds), float(effect.n_instances))
    S, I = effect.n_seeds, effect.n_instances
    sv, iv, rv = (0.0 if not math.isfinite(v) else v for v in (effect.seed_var, effect.instance_var, effect.residual_var))
    if effect.n_seeds == 1:  # nothing is known about seeds: only instances can be counted on
        return Growth((effect.se ** 2) / target, math.nan, float(math.ceil(iv / target)))
    if effect.n_instances == 1:
        return Growth((effect.se ** 2) / target, float(math.ceil(sv / target)), math.nan)
    # var(S', I) = sv/S' + iv/I + rv/(S' I)  and  var(S, I') = sv/S + (iv + rv/S)/I'
    rest_i = target - iv / I
    seeds = math.ceil((sv + rv / I) / rest_i) if rest_i > 0 else math.inf
    rest_s = target - sv / S
    instances = math.ceil((iv + rv / S) / rest_s) if rest_s > 0 else math.inf
    model_var = sv / S + iv / I + rv / (S * I)
    scale = model_var / target if model_var > 0 else (effect.se ** 2) / target
    return Growth(float(scale), float(seeds), float(instances))


def seed_share(effect: Effect) -> float:
    """The share of the variance of ``effect``'s mean that comes from the seeds (training
    randomness), ``seed_var / S`` of ``seed_var / S + instance_var / I + residual_var / (S I)``;
    NaN where the components are unknown (one seed or one instance)."""
    S, I = effect.n_seeds, effect.n_instances
    parts = (effect.seed_var / S, effect.instance_var / I, effect.residual_var / (S * I))
    total = sum(parts)
    return parts[0] / total if all(map(math.isfinite, parts)) and total > 0 else math.nan


def growth_text(effect: Effect, delta: float) -> str:
    """What an MDE of ``delta`` would take (:func:`growth_needed`), in words: seeds alone,
    instances alone, or both together."""
    g = growth_needed(effect, delta)
    if g.scale <= 1:
        return "nothing more: the MDE is there already"
    if math.isfinite(g.seeds):
        return f"about {format_number(g.seeds)} seeds on these instances"
    if math.isfinite(g.instances):
        return f"about {format_number(g.instances)} test instances with these seeds"
    if not math.isfinite(g.scale):
        return "more than these seeds and instances can tell"
    return (f"about {g.scale:.1f} times as many seeds and test instances together (with these instances no "
            f"number of seeds is enough, and with these seeds no number of instances)")


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN, out of the family)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
        values = np.empty(m)
        values[order] = adjusted
        out[ok] = values
    return out
