"""The generator's ceilings on a split: evaluated, cached, differenced and tabulated.

The scorers themselves (the oracle and the Bayes scorers, from the generator's next-click law)
are the generator's maths, in :mod:`pprlib.data.ceilings`; this module runs them on a split's
instances with the protocol of every method (:func:`pprlib.evaluation.evaluate`), keeps their
metrics in the cache (two chapters that ask for the same ceilings compute them once), and turns
them into the values of the profile with their intervals and the data chapter's table.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from pprlib import evidence, timing
from pprlib.cache import cache_dir, config_key
from pprlib.data.ceilings import BayesScorer, ceiling_scorers, scorer_names, world_of
from pprlib.evaluation import evaluate
from pprlib.runs import instances as instance_set
from pprlib.runs import split_fingerprint, stored

VALUES = {
    "value of the profile": ("Bayes (profile)", "Bayes (none)"),
    "through the static preference": ("Bayes (preference)", "Bayes (none)"),
    "through the style": ("Bayes (style)", "Bayes (none)"),
    "latent state beyond the profile": ("oracle", "Bayes (profile)"),
}
"""Differences of ceilings: (name, (A, B)) for A - B. The two parts of the value of the
profile need not add up to it (the remainder is their interaction)."""


def evaluate_ceilings(split, inst, *, n_samples: int = 4096, seed: int = 0, full_ranking: bool = True,
                      profiles: np.ndarray | None = None, names=None) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """Per-instance metrics of the oracle and the Bayes scorers (``names``: only those of
    :data:`~pprlib.data.ceilings.SCORERS`) on ``inst`` of ``split`` (the protocol of every method:
    :func:`pprlib.evaluation.evaluate`), and per scorer the seconds it took and, for the Bayes
    scorers, each instance's history length and effective sample size (in the order evaluate
    scored them)."""
    info: dict = {}
    out = {}
    for name, scorer in ceiling_scorers(world_of(split.data), n_samples, seed, names).items():
        ess = []
        if isinstance(scorer, BayesScorer):
            inner = scorer

            def scorer(batch, inner=inner, ess=ess):
                scores = inner(batch)
                ess.append((batch["lengths"].cpu().numpy(), inner.ess))
                return scores

        start = time.perf_counter()
        out[name] = evaluate(scorer, split, inst, full_ranking=full_ranking, profiles=profiles)
        info[name] = {"seconds": time.perf_counter() - start}
        if ess:  # in batch order: (history length, effective sample size) of every instance
            info[name]["history"] = np.concatenate([e[0] for e in ess])
            info[name]["ess"] = np.concatenate([e[1] for e in ess])
    return out, info


def ceilings_key(split, instances: str, *, n_samples: int, seed: int, names=None, full_ranking: bool = True) -> str:
    """The cache key of :func:`cached_ceilings`: the split (:func:`pprlib.runs.split_fingerprint`:
    its data, protocol, user groups and instance sets), the world's parameters and latent
    state (which the data's fingerprint does not hold), the instance set's name, the draws
    (``n_samples``, ``seed``), the scorers and the protocol."""
    world_of(split.data)  # real data fails here, before anything is keyed or computed
    meta = split.data.meta
    return config_key("ceilings", split_fingerprint(split), meta["generator"], meta["latent"], instances,
                      int(n_samples), int(seed), list(scorer_names(names)), bool(full_ranking))


def cached_ceilings(split, instances: str = "test", *, n_samples: int = 4096, seed: int = 0, names=None,
                    full_ranking: bool = True, use_cache: bool = True) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """:func:`evaluate_ceilings` on the instance set named ``instances`` of ``split`` (e.g.
    ``"test"`` or ``"test+heldout"``), kept on disk under :func:`ceilings_key` (``ceilings/<key>.pt``
    in the cache folder): two chapters that ask for the same ceilings compute them once. The
    ``seconds`` in the info are those of the computation, wherever it ran."""
    key = ceilings_key(split, instances, n_samples=n_samples, seed=seed, names=names, full_ranking=full_ranking)

    def compute() -> dict:
        with timing.part("ceilings"):
            per, info = evaluate_ceilings(split, instance_set(split, instances, "all"), n_samples=n_samples,
                                          seed=seed, full_ranking=full_ranking, names=names)
        as_tensors = lambda d: {k: torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v  # noqa: E731
                                for k, v in d.items()}
        return {"metrics": {name: as_tensors(m) for name, m in per.items()},
                "info": {name: as_tensors(i) for name, i in info.items()}}

    value = stored(cache_dir() / "ceilings" / f"{key}.pt", compute, use_cache)
    as_arrays = lambda d: {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in d.items()}  # noqa: E731
    return ({name: as_arrays(m) for name, m in value["metrics"].items()},
            {name: as_arrays(i) for name, i in value["info"].items()})


def ceiling_values(per: dict[str, dict[str, np.ndarray]], positions: np.ndarray,
                   metrics=("NDCG@10", "full/NDCG@10"), values=None, level: float = 0.95):
    """The differences of :data:`VALUES` (or ``values``: names of it) in ``per`` (the metrics
    of :func:`evaluate_ceilings`) with their paired t-interval over instances, few-shot and
    zero-shot apart (``positions``: each instance's position, 0 = zero-shot): a frame with
    columns ``value, instances, metric, mean, lo, hi, n``."""
    positions = np.asarray(positions)
    kinds = {"few-shot": positions > 0, "zero-shot": positions == 0}
    rows = []
    for value in values or VALUES:
        a, b = VALUES[value]
        if a not in per or b not in per:
            raise ValueError(f"{value!r} needs the ceilings {a!r} and {b!r}; computed: {sorted(per)}")
        for kind, mask in kinds.items():
            for m in metrics:
                d = (per[a][m] - per[b][m])[mask]
                mean, lo, hi = (evidence.instance_only(d[None, :], level) if len(d) > 1 else
                                (d.mean() if len(d) else np.nan, np.nan, np.nan))
                rows.append({"value": value, "instances": kind, "metric": m, "mean": float(mean), "lo": float(lo),
                             "hi": float(hi), "n": int(mask.sum())})
    return pd.DataFrame(rows)


PROTOCOLS = {"sampled": "NDCG@10", "full ranking": "full/NDCG@10"}
"""The two views of NDCG@10 the ceilings are reported on: 99 sampled negatives and full ranking."""


def ceiling_table(per: dict[str, dict[str, np.ndarray]], positions: np.ndarray,
                  scorers=("oracle", "Bayes (profile)", "Bayes (none)"),
                  values=("value of the profile", "through the static preference", "through the style")):
    """NDCG@10 of the ceiling ``scorers`` (means) and the ``values`` (differences with their 95 %
    interval over instances, :func:`ceiling_values`), few-shot and zero-shot, on 99 sampled
    negatives and on full ranking: a frame of formatted cells, one row per scorer or value."""
    positions = np.asarray(positions)
    kinds = {"few-shot": positions > 0, "zero-shot": positions == 0}
    diffs = ceiling_values(per, positions, tuple(PROTOCOLS.values()), values).set_index(
        ["value", "instances", "metric"])
    columns = pd.MultiIndex.from_tuples([(k, p) for k in kinds for p in PROTOCOLS])
    rows = {name: [f"{per[name][PROTOCOLS[p]][kinds[k]].mean():.4f}" for k, p in columns] for name in scorers}
    for value in values:
        cells = []
        for k, p in columns:
            r = diffs.loc[(value, k, PROTOCOLS[p])]
            cells.append(f"{r['mean']:+.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}]" if np.isfinite(r["lo"]) else
                         f"{r['mean']:+.4f}")
        rows[value] = cells
    return pd.DataFrame(rows, index=columns).T
