"""How the order of tied ratings (same user, same timestamp) moves MovieLens numbers.

For MovieLens-100K (the recbole 1.2.1 wheel; or an ML-1M folder with ``--folder``) read with
ties in file order, item-id order and seeded random orders: how many ratings and users have
ties, the share of first ratings that fall on the ten most common first movies, and the
zero-shot and few-shot NDCG@10 / HIT@10 of the count baselines on the book's MovieLens split
(30 % of the users simulated cold), which need no training.

    python benchmarks/ties.py [--folder path/to/ml-1m] [--random-seeds 0 1 2 3 4] [--methods]

writes ``benchmarks/results/ties_<data>.csv``; with ``--methods`` also the MovieLens chapter's
comparisons (pre-training and tuning, about as long as the chapter) under file, item-id and
random (seed 0) order, ``ties_methods_<data>.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def tie_statistics(data) -> dict:
    """Shares of ratings in a (user, timestamp) tie and of users whose first timestamp is tied;
    the share of first ratings on the ten most common first items."""
    key = data.users.astype(np.int64) * (int(data.timestamps.max()) + 1) + (data.timestamps - data.timestamps.min())
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    first = data.offsets[:-1]
    first_items = data.items[first]
    top = np.sort(np.bincount(first_items))[::-1][:10].sum()
    return {"ratings in a tie": float((counts[inverse] > 1).mean()),
            "users with a tied first timestamp": float((counts[inverse[first]] > 1).mean()),
            "first ratings on the 10 most common first items": float(top / data.n_users)}


def baselines(data, seed: int = 0) -> dict:
    """Zero- and few-shot NDCG@10 / HIT@10 of the count baselines on the book's MovieLens split."""
    from pprlib.data.protocol import ProtocolConfig, split
    from pprlib.evaluation import evaluate, most_popular

    sp = split(data, ProtocolConfig(seed=seed, simulate_cold_share=0.3))
    test = sp.instances("test")
    out = {}
    for name, source in (("most popular", "warm"), ("most popular (cold)", "cold_first")):
        per = evaluate(most_popular(sp, source), sp, test)
        for kind, mask in (("zero", test.positions == 0), ("few", test.positions > 0)):
            for metric in ("NDCG@10", "HIT@10", "full/NDCG@10"):
                out[f"{name}, {kind}-shot {metric}"] = float(per[metric][mask].mean())
    return out


def methods(data, seeds: list[int]) -> list[dict]:
    """The MovieLens chapter's comparisons (few-shot and zero-shot NDCG@10 of each method, and
    PPR's paired effect over ft) on ``data``: its settings, its split, its learning-rate choice."""
    from pprlib import experiments as ex

    config = ex.BookConfig(dataset="movielens-100k", seeds=tuple(seeds), progress=False)
    protocol = ex.ProtocolConfig(seed=config.seed, simulate_cold_share=0.3)
    split = ex._split(data, protocol)
    backbone = ex.BackboneConfig()
    pre_cfg = ex.pretrain_config(config)
    pre = ex.pretrain(split, backbone, pre_cfg)
    tune_cfg = ex.TrainConfig(batch_size=64, max_epochs=config.tune_epochs, patience=3, device=config.device,
                              progress=False)
    ctx = ex.Context(config, ex.DataSpec("movielens-100k"), split, backbone, pre_cfg, pre, tune_cfg)
    rows = []
    for kind, names in (("few", ["most popular", "pre-train", "ft", "PPR(light)", "PPR(full)"]),
                        ("zero", ["most popular", "most popular (cold)", "ft", "PPR(light)", "PPR(full)"])):
        lrs = ex.choose_lr(ctx, names, kind)
        result = ex.compare(ctx, names, ctx.settings(lr=lrs), kind, list(seeds))
        tidy = result.tidy()
        for metric in ("NDCG@10", "full/NDCG@10"):
            if metric not in set(tidy.metric):
                continue
            means = tidy[tidy.metric == metric].groupby("method").value.mean()
            for name in names:
                row = {"instances": f"{kind}-shot", "metric": metric, "method": name, "mean": float(means[name])}
                if name.startswith("PPR"):
                    eff = result.effect(name, "ft", metric)
                    row.update({"vs ft": eff.estimate, "lo": eff.lo, "hi": eff.hi, "p": eff.p, "mde": eff.mde})
                rows.append(row)
    return rows


def main() -> None:
    from pprlib.data.readers.movielens import read_grouplens, read_movielens_100k

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="a GroupLens folder (ML-1M) instead of ML-100K from the wheel")
    parser.add_argument("--random-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", action="store_true",
                        help="also the chapter's method comparisons under file, item-id and random (seed 0) order")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds for --methods")
    args = parser.parse_args()

    def read(**order):
        return read_grouplens(args.folder, **order) if args.folder else read_movielens_100k(**order)

    orders = [("file", {"ties": "file"}), ("item id", {"ties": "item"})]
    orders += [(f"random (seed {s})", {"ties": "random", "ties_seed": s}) for s in args.random_seeds]
    rows = []
    for label, order in orders:
        data = read(**order)
        rows.append({"data": data.name, "tie order": label, **tie_statistics(data), **baselines(data)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    out = HERE / "results" / f"ties_{table.data.iloc[0]}.csv"
    table.to_csv(out, index=False, float_format="%.6g")
    print(table.set_index("tie order").drop(columns="data").T.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.methods:
        rows = []
        for label, order in orders[:3]:
            data = read(**order)
            rows += [{"data": data.name, "tie order": label, **r} for r in methods(data, args.seeds)]
            print(pd.DataFrame(rows).to_string(float_format=lambda v: f"{v:.4f}"), flush=True)
            pd.DataFrame(rows).to_csv(HERE / "results" / f"ties_methods_{data.name}.csv", index=False,
                                      float_format="%.6g")  # after each order: a long run keeps what it has


if __name__ == "__main__":
    main()
