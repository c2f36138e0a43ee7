"""Paper-scale timing: the book's code at the size of the paper's CIKM data, on one device.

    python benchmarks/paper_scale.py --device cuda --out benchmarks/results/paper_scale.csv

Generates synthetic data with CIKM's numbers of users and items (80,964 and 87,894; with the
generator's default lengths this gives about as many pre-training instances as CIKM's 2.1 M),
splits it with the book's protocol, then times, with the same functions the chapters call:

* pre-training (the book's settings: softmax cross-entropy, batch 256, d = 64) for at most
  ``--pretrain-epochs`` epochs or until early stopping, with validation after every epoch;
* tuning ft, PPR(light) and PPR(full) on the cold users for ``--tune-epochs`` epochs each;
* evaluation of the cold test users (100 candidates and full ranking over every item).

Each row gives the seconds per epoch (median), the epochs run and the peak device memory
(``torch.cuda.max_memory_allocated``, reset per case). Nothing is cached and nothing is
asserted: the book's paper-scale page reads the CSV and states the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

CIKM = {"n_users": 80_964, "n_items": 87_894}


def _peak_mib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")


def _reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def machine(device: torch.device) -> dict:
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    return {"device": str(device), "gpu": gpu, "torch": torch.__version__, "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine()}


def run(device: str, n_users: int, n_items: int, pretrain_epochs: int, tune_epochs: int, seed: int = 0,
        out: Path | None = None) -> list[dict]:
    from pprlib.config import BookConfig, pretrain_config
    from pprlib.context import Context
    from pprlib.data.protocol import ProtocolConfig, split
    from pprlib.data.synthetic import SyntheticConfig, generate
    from pprlib.evaluation import evaluate
    from pprlib.models.backbones import BackboneConfig
    from pprlib.runs import TuneSettings, pretrain, tune
    from pprlib.train import TrainConfig, resolve_device

    dev = resolve_device(device)
    rows = []

    def row(case, **values):  # written at once: a run stopped early keeps what it measured
        values = {"case": case, **values}
        rows.append(values)
        print(json.dumps(values), flush=True)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).assign(**machine(dev)).to_csv(out, index=False)

    start = time.perf_counter()
    data = generate(SyntheticConfig(n_users=n_users, n_items=n_items, seed=seed))
    sp = split(data, ProtocolConfig(seed=seed))
    row("data", seconds=time.perf_counter() - start, users=data.n_users, items=data.n_items,
        clicks=data.n_interactions, pretrain_instances=int(sp.pretrain_sequences()[1].sum()),
        cold_tune_users=len(sp.tune_users), cold_test_instances=len(sp.instances("test")))

    backbone = BackboneConfig()
    config = BookConfig(n_users=n_users, n_items=n_items, seed=seed, pretrain_epochs=pretrain_epochs,
                        device=device, progress=False)
    _reset(dev)
    pre = pretrain(sp, backbone, pretrain_config(config), use_cache=False)
    h = pre.history
    row("pre-training", seconds_per_epoch=statistics.median(h.seconds.diff().dropna()), epochs=int(h.epoch.max()),
        seconds=float(h.seconds.max()), best_val_ndcg10=float(h["val/NDCG@10"].max()), peak_mib=_peak_mib(dev))

    tune_cfg = TrainConfig(batch_size=64, max_epochs=tune_epochs, patience=tune_epochs, device=device, progress=False)
    for name in ("ft", "PPR(light)", "PPR(full)"):
        settings = TuneSettings(train=tune_cfg, lr={name: 1e-3})
        _reset(dev)
        t0 = time.perf_counter()
        model, hist = tune(Context(sp, pre, backbone), name, settings, "few", seed)
        row(f"tuning {name}", seconds_per_epoch=statistics.median(hist.seconds.diff().dropna()),
            epochs=int(hist.epoch.max()), seconds=time.perf_counter() - t0, peak_mib=_peak_mib(dev))
        if name == "PPR(full)":
            test = sp.instances("test")
            for full in (False, True):
                _reset(dev)
                t0 = time.perf_counter()
                evaluate(model.to(dev).eval().full_sort_predict, sp, test, full_ranking=full, device=dev)
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                seconds = time.perf_counter() - t0
                row("evaluation, full ranking" if full else "evaluation, 100 candidates", seconds=seconds,
                    instances=len(test), instances_per_second=len(test) / seconds, peak_mib=_peak_mib(dev))
    row("total", seconds=time.perf_counter() - start)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-users", type=int, default=CIKM["n_users"])
    parser.add_argument("--n-items", type=int, default=CIKM["n_items"])
    parser.add_argument("--pretrain-epochs", type=int, default=100)
    parser.add_argument("--tune-epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/paper_scale.csv"))
    args = parser.parse_args(argv)
    run(args.device, args.n_users, args.n_items, args.pretrain_epochs, args.tune_epochs, out=args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
