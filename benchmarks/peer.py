"""The peer comparison on MovieLens-100K: pprlib's pre-training against RecBole's SASRec.

Same data (the ratings in the recbole wheel), same protocol (leave-one-out: last click test,
second last validation; full ranking without the history items), same model size (1 layer,
1 head, d = 64, inner size 64, window 50), same loss (softmax cross-entropy over every item),
batch 256. Each library trains until its own early stopping; the comparison is wall time to
convergence and test NDCG@10.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ours(max_epochs: int = 200) -> dict:
    import torch

    from pprlib.data.protocol import ProtocolConfig, leave_one_out
    from pprlib.data.readers.movielens import read_movielens_100k
    from pprlib.evaluation import evaluate
    from pprlib.models import PPRConfig, PPRModel
    from pprlib.models.backbones import BackboneConfig
    from pprlib.runs import pretrain
    from pprlib.train import TrainConfig

    read_movielens_100k()  # fetch the wheel once, outside the timing
    start = time.perf_counter()  # like RecBole's run: reading, splitting, training, testing
    sp = leave_one_out(read_movielens_100k(), ProtocolConfig(seed=0, max_history=50))
    backbone = BackboneConfig(d=64, ffn=64, max_len=50)
    cfg = TrainConfig(lr=5e-3, loss="ce", batch_size=256, max_epochs=max_epochs, patience=10, min_delta=1e-3,
                      device="cpu", progress=False)
    pre = pretrain(sp, backbone, cfg, use_cache=False)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, backbone, PPRConfig(prompt="none", profile_model=False))
    model.load_pretrained(pre.state)
    per = evaluate(model.eval().full_sort_predict, sp, sp.instances("warm_test"), device=torch.device("cpu"))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "epochs": int(pre.history.epoch.max()), "ndcg10": float(per["full/NDCG@10"].mean()),
            "hit10": float(per["full/HIT@10"].mean()), "users": len(per["full/NDCG@10"])}


def recbole(python: str, epochs: int) -> dict:
    proc = subprocess.run([python, str(HERE / "peer_recbole.py"), "--epochs", str(epochs)], capture_output=True,
                          text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def compare(python: str, epochs: int = 200) -> list[dict]:
    from benchmarks.run import spawn

    mine = spawn("peer", {})
    theirs = recbole(python, epochs)
    rows = [{"group": "peer", "case": "pprlib SASRec on ML-100K, to convergence", "value": mine.get("seconds"),
             "unit": "s", "peak_mib": mine.get("peak_mib"),
             "note": f"{mine.get('epochs')} epochs, test full NDCG@10 {mine.get('ndcg10', float('nan')):.4f}"},
            {"group": "peer", "case": f"RecBole 1.2.1 SASRec on ML-100K, early stopping or {epochs} epochs",
             "value": theirs.get("seconds"),
             "unit": "s", "peak_mib": float("nan"),
             "note": theirs.get("error") or (f"test full NDCG@10 {theirs['ndcg10']:.4f}, best validation "
                                             f"{theirs['best_valid_ndcg10']:.4f} (epoch limit {epochs})")}]
    if "error" not in theirs and "error" not in mine:
        # with an epoch limit RecBole may stop before it converges: its time is then a lower bound
        # of its time to converge, and the ratio a lower bound of the speed-up when pprlib's NDCG is
        # at least RecBole's
        bound = "at least " if theirs["ndcg10"] <= mine["ndcg10"] else "not comparable: RecBole is better; "
        rows.append({"group": "peer", "case": "wall time, RecBole / pprlib",
                     "value": theirs["seconds"] / mine["seconds"], "unit": "x", "peak_mib": float("nan"),
                     "note": f"{bound}NDCG@10 pprlib {mine['ndcg10']:.4f} vs RecBole {theirs['ndcg10']:.4f}"})
    return rows
