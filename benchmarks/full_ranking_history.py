"""Full ranking before and after excluding the user's whole earlier history.

Before: only the items in the model's input window were removed from a user's competitors;
after: every item the user clicked before the target (the target never). Only users with more
clicks before the target than the window holds can change: warm users. Measured on the warm
test users of the default synthetic data (the pre-training chapter's full-ranking numbers) and
on the peer benchmark's setting (MovieLens-100K, leave-one-out, window 50).

    python benchmarks/full_ranking_history.py [--no-movielens]

writes ``benchmarks/results/full_ranking_history.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def _rows(label: str, scorers: dict, split, inst) -> list[dict]:
    from pprlib.evaluation import evaluate

    window = split.config.max_history
    longer = int((inst.positions > window).sum())
    rows = []
    for name, scorer in scorers.items():
        out = {rule: evaluate(scorer, split, inst, exclude=rule) for rule in ("window", "history")}
        for metric in ("full/HIT@10", "full/NDCG@10"):
            before, after = float(out["window"][metric].mean()), float(out["history"][metric].mean())
            rows.append({"data": label, "model": name, "metric": metric, "window only": before,
                         "whole history": after, "change": after - before, "instances": len(inst),
                         "histories longer than the window": longer, "window": window})
    return rows


def synthetic() -> list[dict]:
    from pprlib.config import BookConfig
    from pprlib.context import prepare
    from pprlib.evaluation import most_popular
    from pprlib.runs import build_model

    ctx = prepare(BookConfig(progress=False))
    model = build_model(ctx, "pre-train", ctx.settings()).eval()
    scorers = {"most popular (warm)": most_popular(ctx.split), "pre-trained SASRec": model.full_sort_predict}
    return _rows("synthetic (default), warm test users", scorers, ctx.split, ctx.split.instances("warm_test"))


def movielens(max_epochs: int = 200) -> list[dict]:
    from pprlib.data.protocol import ProtocolConfig, leave_one_out
    from pprlib.data.readers.movielens import read_movielens_100k
    from pprlib.models import PPRConfig, PPRModel
    from pprlib.models.backbones import BackboneConfig
    from pprlib.runs import pretrain
    from pprlib.train import TrainConfig

    # the peer benchmark's settings (benchmarks/peer.py)
    sp = leave_one_out(read_movielens_100k(), ProtocolConfig(seed=0, max_history=50))
    backbone = BackboneConfig(d=64, ffn=64, max_len=50)
    cfg = TrainConfig(lr=5e-3, loss="ce", batch_size=256, max_epochs=max_epochs, patience=10, min_delta=1e-3,
                      device="cpu", progress=False)
    pre = pretrain(sp, backbone, cfg)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, backbone, PPRConfig(prompt="none", profile_model=False))
    model.load_pretrained(pre.state)
    return _rows("MovieLens-100K, leave-one-out (peer benchmark)", {"pre-trained SASRec": model.eval().full_sort_predict},
                 sp, sp.instances("warm_test"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-movielens", action="store_true", help="only the synthetic data")
    args = parser.parse_args()
    rows = synthetic()
    print(pd.DataFrame(rows).to_string(index=False), flush=True)
    if not args.no_movielens:
        rows += movielens()
    table = pd.DataFrame(rows)
    out = HERE / "results" / "full_ranking_history.csv"
    table.to_csv(out, index=False, float_format="%.6g")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.drop(columns=["window"]).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"written: {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
