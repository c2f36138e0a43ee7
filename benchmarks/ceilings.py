"""Ceilings of the default synthetic world (pprlib.data.ceilings): the oracle, the Bayes scorers
with and without the profile, and the value of the profile split into its static-preference
and style parts, on the cold test users of the book's default split, few-shot and zero-shot,
on 99 sampled negatives and on full ranking; with the seconds each scorer takes, and how the
numbers move with the number of importance samples (and their seed).

    python benchmarks/ceilings.py [--samples 1024 4096 16384] [--seeds 0 1]
    python benchmarks/ceilings.py --dose 1024

writes ``benchmarks/results/ceilings.csv`` (every mean), ``ceilings_values.csv`` (the
differences with 95 % paired intervals over test instances) and ``ceilings.md``; with
``--dose``, ``ceilings_dose.csv``: the ceilings at four levels of ``profile_style_signal`` and
of ``profile_signal`` (0, 0.4, 0.8, 1).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
METRICS = ("NDCG@10", "HIT@10", "full/NDCG@10", "full/HIT@10")


def run(samples: list[int], seeds: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from pprlib import evidence
    from pprlib.ceilings import VALUES, evaluate_ceilings
    from pprlib.evaluation import evaluate, most_popular
    from pprlib.experiments import BookConfig, book_data

    start = time.perf_counter()
    _, split = book_data(BookConfig(progress=False))
    test = split.instances("test")
    kinds = {"few-shot": test.positions > 0, "zero-shot": test.positions == 0}
    print(f"default split: {len(test)} cold test instances "
          f"({kinds['few-shot'].sum()} few-shot, {kinds['zero-shot'].sum()} zero-shot), "
          f"{time.perf_counter() - start:.1f} s", flush=True)

    rows, values = [], []
    for baseline, source in (("most popular (warm)", "warm"), ("most popular (cold first clicks)", "cold_first")):
        t0 = time.perf_counter()
        per = evaluate(most_popular(split, source), split, test)
        seconds = time.perf_counter() - t0
        for kind, mask in kinds.items():
            rows += [{"scorer": baseline, "samples": 0, "seed": 0, "instances": kind, "metric": m,
                      "mean": float(per[m][mask].mean()), "seconds": seconds, "ess mean": np.nan,
                      "ess min": np.nan} for m in METRICS]
    for n in samples:
        for seed in seeds:
            per, info = evaluate_ceilings(split, test, n_samples=n, seed=seed)
            for name, res in per.items():
                few_ess = info[name]["ess"][info[name]["history"] > 0] if "ess" in info[name] else None
                for kind, mask in kinds.items():
                    ess = few_ess if kind == "few-shot" else None
                    rows += [{"scorer": name, "samples": n if name != "oracle" else 0, "seed": seed,
                              "instances": kind, "metric": m, "mean": float(res[m][mask].mean()),
                              "seconds": info[name]["seconds"],
                              "ess mean": float(ess.mean()) if ess is not None else np.nan,
                              "ess min": float(ess.min()) if ess is not None else np.nan} for m in METRICS]
            for value, (a, b) in VALUES.items():
                for kind, mask in kinds.items():
                    for m in METRICS:
                        mean, lo, hi = evidence.instance_only((per[a][m] - per[b][m])[mask][None, :])
                        values.append({"value": value, "A": a, "B": b, "samples": n, "seed": seed,
                                       "instances": kind, "metric": m, "difference": float(mean),
                                       "lo": float(lo), "hi": float(hi)})
            print(f"{n} samples, seed {seed}: " + ", ".join(
                f"{k} {v['seconds']:.1f} s" for k, v in info.items()), flush=True)
    return pd.DataFrame(rows), pd.DataFrame(values)


def dose(samples: int) -> pd.DataFrame:
    """The ceilings as ``profile_style_signal`` and, separately, ``profile_signal`` go from 0 to 1
    (the other knobs at their defaults; each level is a world of its own, sequences included)."""
    from pprlib.ceilings import evaluate_ceilings
    from pprlib.data.protocol import ProtocolConfig, split
    from pprlib.data.synthetic import SyntheticConfig, generate

    rows = []
    for knob in ("profile_style_signal", "profile_signal"):
        for level in (0.0, 0.4, 0.8, 1.0):
            sp = split(generate(SyntheticConfig(**{knob: level})), ProtocolConfig())
            test = sp.instances("test")
            per, _ = evaluate_ceilings(sp, test, n_samples=samples)
            for kind, mask in (("few-shot", test.positions > 0), ("zero-shot", test.positions == 0)):
                for m in ("NDCG@10", "full/NDCG@10"):
                    mean = {name: float(res[m][mask].mean()) for name, res in per.items()}
                    none = mean["Bayes (none)"]
                    rows.append({"knob": knob, "level": level, "instances": kind, "metric": m,
                                 "oracle": mean["oracle"], "Bayes (profile)": mean["Bayes (profile)"],
                                 "Bayes (none)": none, "value of the profile": mean["Bayes (profile)"] - none,
                                 "through the static preference": mean["Bayes (preference)"] - none,
                                 "through the style": mean["Bayes (style)"] - none})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def markdown(means: pd.DataFrame, values: pd.DataFrame, samples: int, seed: int) -> str:
    sel = means[((means.samples == samples) | (means.samples == 0)) & (means.seed == seed)]
    sel = sel.drop_duplicates(["scorer", "instances", "metric"])
    table = sel.pivot_table(index="scorer", columns=["instances", "metric"], values="mean", sort=False)
    seconds = sel.groupby("scorer", sort=False)["seconds"].first()
    v = values[(values.samples == samples) & (values.seed == seed)].copy()
    v["cell"] = v.apply(lambda r: f"{r.difference:+.4f} [{r.lo:+.4f}, {r.hi:+.4f}]", axis=1)
    vt = v.pivot_table(index="value", columns=["instances", "metric"], values="cell", aggfunc="first", sort=False)
    conv = means[(means.scorer.str.startswith("Bayes")) & (means.metric.isin(["NDCG@10", "full/NDCG@10"]))]
    conv = conv.pivot_table(index=["scorer", "instances", "metric"], columns=["samples", "seed"], values="mean")
    ess = means[(means.instances == "few-shot") & (means.metric == "NDCG@10") & means.scorer.str.startswith("Bayes")]
    ess = ess.pivot_table(index="scorer", columns=["samples", "seed"], values=["ess mean", "ess min"])
    return "\n\n".join([
        "# Ceilings of the default synthetic world",
        f"Cold test users of the default split; Bayes scorers with {samples} importance samples (seed {seed}). "
        f"Machine: {platform.processor() or platform.machine()}, python {platform.python_version()}.",
        "## Means", table.to_markdown(floatfmt=".4f"),
        "## Seconds per scorer (all test instances, sampled and full ranking)", seconds.to_frame().to_markdown(floatfmt=".1f"),
        "## Differences (95 % paired t-interval over test instances; Monte-Carlo spread: next table)",
        vt.to_markdown(),
        "## Bayes means by number of samples and seed", conv.to_markdown(floatfmt=".4f"),
        "## Effective sample size of the few-shot posteriors", ess.to_markdown(floatfmt=".0f"),
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--dose", type=int, metavar="SAMPLES",
                        help="only the ceilings at four levels of each profile knob, with SAMPLES draws")
    args = parser.parse_args()
    out = HERE / "results"
    if args.dose:
        table = dose(args.dose)
        table.to_csv(out / "ceilings_dose.csv", index=False, float_format="%.6g")
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
        return
    means, values = run(args.samples, args.seeds)
    means.to_csv(out / "ceilings.csv", index=False, float_format="%.6g")
    values.to_csv(out / "ceilings_values.csv", index=False, float_format="%.6g")
    (out / "ceilings.md").write_text(markdown(means, values, max(args.samples), args.seeds[0]))
    print((out / "ceilings.md").read_text())


if __name__ == "__main__":
    main()
