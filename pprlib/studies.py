"""The paper's studies, each one function returning a tidy DataFrame for one figure.

* :func:`ablation`: PPR(light) and PPR(full) with parts removed (paper Fig. 3);
* :func:`noise`: profiles of cold users perturbed at rate r (paper Fig. 4);
* :func:`sparsity`: cold sequences cropped to k clicks (paper Fig. 5).

They reuse :func:`pprlib.experiments.compare`, so every run is cached by its configuration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pprlib.experiments import Comparison, Context, compare

ABLATION_VARIANTS = {
    "full model": "",
    "w/o CL": " w/o CL",
    "w/o prompt aug": " w/o prompt aug",
    "w/o behaviour aug": " w/o behaviour aug",
}


def ablation_methods() -> list[str]:
    """ft and, for light and full, the full model, each removed part and the shared prompt."""
    names = ["ft"]
    for mode in ("light", "full"):
        names += [f"PPR({mode}){suffix}" for suffix in ABLATION_VARIANTS.values()]
        names.append(f"shared prompt ({mode})")
    return names


def ablation(ctx: Context, lrs: dict[str, float], targets: str = "few") -> tuple[pd.DataFrame, Comparison]:
    """Tidy frame (mode, variant, seed, metric, value) of the ablation; the learning rate of a
    variant is that of its full model (``lrs["PPR(light)"]`` / ``lrs["PPR(full)"]``)."""
    names = ablation_methods()
    rates = {n: lrs.get(n, lrs.get("PPR(light)" if "light" in n else "PPR(full)", ctx.tune_cfg.lr)) for n in names}
    rates["ft"] = lrs.get("ft", ctx.tune_cfg.lr)
    result = compare(ctx.split, ctx.pre, names, list(ctx.config.seeds), ctx.backbone, ctx.settings(lr=rates), targets)
    tidy = result.tidy()
    tidy["mode"] = np.where(tidy.method.str.contains("light"), "PPR(light)",
                            np.where(tidy.method.str.contains("full"), "PPR(full)", "ft"))
    variant = tidy.method.str.replace(r"^PPR\((light|full)\)", "", regex=True).str.strip()
    variant = variant.replace({"": "full model"})
    variant = variant.where(~tidy.method.str.startswith("shared"), "shared prompt")
    tidy["variant"] = np.where(tidy.method == "ft", "ft", variant)
    return tidy, result


def noise(ctx: Context, rates: list[float], methods: list[str], lrs: dict[str, float],
          targets: str = "few") -> pd.DataFrame:
    """Tidy frame (noise, method, seed, metric, value): every cold user's profile fields are
    replaced by a random valid value with probability r, in tuning and in test."""
    frames = []
    for r in rates:
        settings = ctx.settings(lr=lrs, profile_noise=float(r))
        tidy = compare(ctx.split, ctx.pre, methods, list(ctx.config.seeds), ctx.backbone, settings, targets).tidy()
        tidy.insert(0, "noise", float(r))
        frames.append(tidy)
    return pd.concat(frames, ignore_index=True)


def sparsity(ctx: Context, ks: list[int], lrs: dict[str, float],
             methods=("ft", "PPR(light)", "PPR(full)")) -> pd.DataFrame:
    """Tidy frame (k, method, seed, metric, value, improvement): cold sequences cropped to at
    most k clicks of history in tuning and test; ``improvement`` is the relative change (in %)
    against ft of the same seed and k."""
    frames = []
    for k in ks:
        settings = ctx.settings(lr=lrs, k_shot=int(k))
        tidy = compare(ctx.split, ctx.pre, list(methods), list(ctx.config.seeds), ctx.backbone, settings, "few").tidy()
        ft = tidy[tidy.method == "ft"].set_index(["seed", "metric"]).value
        tidy["improvement"] = 100 * (tidy.value / ft.reindex(pd.MultiIndex.from_frame(tidy[["seed", "metric"]])).to_numpy() - 1)
        tidy.insert(0, "k", int(k))
        frames.append(tidy)
    return pd.concat(frames, ignore_index=True)


def paper_sparsity_frame() -> pd.DataFrame:
    """The paper's sparsity bars (CIKM, NDCG@10 relative improvement over ft)."""
    from pprlib.paper import SPARSITY_CIKM

    rows = [{"k": k, "method": m, "improvement": v, "source": "paper (CIKM)"}
            for k, (light, full) in SPARSITY_CIKM.items() for m, v in (("PPR(light)", light), ("PPR(full)", full))]
    return pd.DataFrame(rows)


def ablation_gap(tidy: pd.DataFrame, mode: str, variant: str, metric: str = "NDCG@10") -> float:
    """How much the full model of ``mode`` beats ``variant`` (mean over seeds; > 0: the removed
    part helps)."""
    part = tidy[(tidy.metric == metric) & (tidy["mode"] == mode)]
    full = part[part.variant == "full model"].value
    other = part[part.variant == variant].value
    if full.empty or other.empty:
        raise ValueError(f"no results for {mode} '{variant}' and its full model on {metric}")
    return float(full.mean() - other.mean())
