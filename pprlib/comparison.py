"""Comparison: the per-instance test metrics of several methods over several seeds, and
what they say (summary tables and paired effects with intervals over seeds and instances).

:func:`collect` is the one loop that fills a :class:`Comparison` from any run function: the
tuning comparisons of :func:`pprlib.comparisons.compare` and the cross-domain task share it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pprlib import evidence

LABELS = ("position", "heldout")
"""Per-instance columns of a run's results that label instances rather than measure them."""


@dataclass
class Comparison:
    """Results of several methods over several seeds on one test set."""

    per_instance: dict  # (method, seed) -> {metric: array over test instances}
    histories: dict  # (method, seed) -> DataFrame
    seconds: dict

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(m for m, _ in self.per_instance))

    @property
    def seeds(self) -> list[int]:
        return sorted({s for _, s in self.per_instance})

    def tidy(self) -> pd.DataFrame:
        """One row per method x seed x metric (mean over test instances)."""
        rows = [{"method": m, "seed": s, "metric": k, "value": float(v.mean())}
                for (m, s), per in self.per_instance.items() for k, v in per.items() if k not in LABELS]
        return pd.DataFrame(rows)

    def merge(self, other: Comparison) -> Comparison:
        """Both sets of results in one comparison (``other`` wins on a clash)."""
        return Comparison({**self.per_instance, **other.per_instance}, {**self.histories, **other.histories},
                          {**self.seconds, **other.seconds})

    def only(self, kind: str) -> Comparison:
        """The same results restricted to ``zero``-shot or ``few``-shot test instances (a method
        with no instance of that kind, e.g. one without a profile for zero-shot, is dropped)."""
        if kind not in ("zero", "few"):
            raise ValueError(f"kind must be 'zero' or 'few', got {kind!r}")
        out = {}
        for key, per in self.per_instance.items():
            keep = per["position"] == 0 if kind == "zero" else per["position"] > 0
            if keep.any():  # a method evaluated on no instance of this kind is left out
                out[key] = {k: v[keep] for k, v in per.items()}
        return Comparison(out, self.histories, self.seconds)

    def population(self, which: str) -> Comparison:
        """The same results restricted to the ``paper`` protocol's cold test users or to the
        ``heldout`` generated test users (results without the label count as ``paper``)."""
        if which not in ("paper", "heldout"):
            raise ValueError(f"which must be 'paper' or 'heldout', got {which!r}")
        out = {}
        for key, per in self.per_instance.items():
            held = per.get("heldout", np.zeros_like(per["position"])) > 0
            keep = held if which == "heldout" else ~held
            if keep.any():
                out[key] = {k: v[keep] for k, v in per.items()}
        return Comparison(out, self.histories, self.seconds)

    def summary(self, metric_names=("NDCG@10", "HIT@10", "AUC"), reference: str | None = "ft") -> pd.DataFrame:
        """mean ± std over seeds per method, and each method's paired effect on the first metric
        against ``reference`` with its 95 % interval over seeds and instances, p and MDE (in the
        first metric's unit, which its header names; :meth:`effect`); a method that does not vary
        over seeds shows "± 0.0000"."""
        tidy = self.tidy()
        table = {}
        for m in self.methods:
            row = {}
            for k in metric_names:
                vals = tidy[(tidy.method == m) & (tidy.metric == k)].value
                row[k] = f"{vals.mean():.4f} ± {vals.std(ddof=1):.4f}" if len(vals) > 1 else f"{vals.mean():.4f} (1 run)"
            if reference is not None and reference in self.methods:
                name, mde = f"Δ{metric_names[0]} vs {reference} [95% interval]", f"MDE ({metric_names[0]})"
                if m == reference:
                    row |= {name: "—", "p": "—", mde: "—"}
                else:
                    e = self.effect(m, reference, metric_names[0])
                    row |= {name: e.text(), "p": evidence.format_p(e.p), mde: evidence.format_mde(e.mde)}
            row["seeds"] = f"{len(tidy[(tidy.method == m) & (tidy.metric == metric_names[0])])}"
            table[m] = row
        return pd.DataFrame(table).T

    def relative(self, methods, reference: str = "ft", metric: str = "NDCG@10") -> pd.Series:
        """Mean ``metric`` of each method relative to ``reference``, in %."""
        means = self.tidy().query("metric == @metric").groupby("method").value.mean()
        return pd.Series({m: 100 * (means[m] / means[reference] - 1) for m in methods})

    def effect(self, a: str, b: str, metric: str = "NDCG@10") -> evidence.Effect:
        """The paired effect of ``a`` over ``b`` on the seeds both ran, with its interval over
        seeds and instances, p-value and MDE (:func:`pprlib.evidence.paired_effect`)."""
        return evidence.paired_effect(*self.paired_arrays(a, b, metric))

    def paired_arrays(self, a: str, b: str, metric: str = "NDCG@10") -> tuple[np.ndarray, np.ndarray]:
        """``metric`` of ``a`` and of ``b`` as (seeds x instances) arrays, on the seeds both ran."""
        seeds = [s for s in self.seeds if (a, s) in self.per_instance and (b, s) in self.per_instance]
        if not seeds:
            raise ValueError(f"no seed with results for both {a!r} and {b!r}")
        return (np.stack([self.per_instance[(a, s)][metric] for s in seeds]),
                np.stack([self.per_instance[(b, s)][metric] for s in seeds]))

    def effects(self, methods=None, reference: str = "ft", metric: str = "NDCG@10") -> pd.DataFrame:
        """One row per method: its effect over ``reference`` with the 95 % interval (seeds and
        instances), the relative effect, SE, MDE and p (every method but the reference)."""
        rows = {}
        for m in methods or [m for m in self.methods if m != reference]:
            e = self.effect(m, reference, metric)
            rows[m] = {f"Δ{metric}": e.estimate, "lo": e.lo, "hi": e.hi, "relative": e.relative, "SE": e.se,
                       "MDE": e.mde, "p": e.p, "seeds": e.n_seeds, "instances": e.n_instances}
        return pd.DataFrame(rows).T


def best_epochs(result: Comparison, name: str, monitor: str = "val/NDCG@10") -> list[int]:
    """The epoch each run of method ``name`` kept (its best validation ``monitor``), by seed."""
    out = []
    for seed in result.seeds:
        history = result.histories.get((name, seed))
        if history is not None and len(history) and monitor in history:
            out.append(int(history.loc[history[monitor].idxmax(), "epoch"]))
    return out


def settings_table(results: dict[str, Comparison], methods, reference: str = "ft",
                   metric: str = "NDCG@10") -> pd.DataFrame:
    """The same methods under several settings (``results``: a comparison per setting's name):
    per setting and method, the mean ``metric`` over seeds, the effect over ``reference`` with its
    95 % interval over seeds and instances (:meth:`Comparison.effect`) and its MDE (both in
    ``metric``'s unit, which their headers name) and the median epoch the runs kept, formatted for
    the page. Rows: (setting, method)."""
    rows = {}
    for setting, result in results.items():
        means = result.tidy().query("metric == @metric").groupby("method").value.mean()
        for m in methods:
            effect = result.effect(m, reference, metric) if m != reference else None
            epochs = best_epochs(result, m)
            rows[setting, m] = {metric: f"{means[m]:.4f}",
                                f"Δ{metric} vs {reference} [95% interval]": effect.text() if effect else "—",
                                f"MDE ({metric})": evidence.format_mde(effect.mde) if effect else "—",
                                "median epoch kept": f"{np.median(epochs):g}" if epochs else "—"}
    table = pd.DataFrame(rows).T
    table.index.names = ["setting", "method"]
    return table


def settings_sentence(results: dict[str, Comparison], methods, reference: str = "ft", metric: str = "NDCG@10") -> str:
    """What :func:`settings_table` shows, in words: per setting, the reference's mean and the
    median epoch its runs kept, and each other method's effect with its interval and MDE."""
    table = settings_table(results, methods, reference, metric)
    parts = []
    for setting, result in results.items():
        effects = [f"{m} {e.text()} (MDE {evidence.format_mde(e.mde)})"
                   for m in methods if m != reference for e in [result.effect(m, reference, metric)]]
        row = table.loc[(setting, reference)]
        parts.append(f"with {setting}, {reference} reaches {metric} {row[metric]} (median epoch kept "
                     f"{row['median epoch kept']}) and the effects over {reference} are " + " and ".join(effects))
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def collect(run: Callable[[str, int], dict], methods, seeds, *, log=None) -> Comparison:
    """``run(method, seed)`` (a dict with ``metrics``, ``history`` and ``seconds``) for every
    seed and method, gathered into a :class:`Comparison`; ``log`` gets one line per run."""
    per, hist, secs = {}, {}, {}
    for seed in seeds:
        for name in methods:
            out = run(name, seed)
            per[(name, seed)], hist[(name, seed)], secs[(name, seed)] = out["metrics"], out["history"], out["seconds"]
            if log:
                log(f"{name} seed {seed}: NDCG@10 {out['metrics']['NDCG@10'].mean():.4f} ({out['seconds']:.1f} s)")
    return Comparison(per, hist, secs)
