"""Checks that need a GPU, in one short run (prints one JSON line per check):

* the deterministic switch: two pre-trainings with ``deterministic=True`` give identical losses;
* mixed precision: pre-training with bf16 autocast follows the float32 loss curve;
* evaluation on the GPU gives the CPU's metrics for the same model.

    python benchmarks/gpu_checks.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile

import numpy as np
import torch


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (the point of it); cpu runs the same code, to try it")
    device = parser.parse_args(argv).device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu_checks.py needs CUDA: no GPU is visible to torch")
    os.environ.setdefault("PPR_CACHE_DIR", tempfile.mkdtemp())
    from pprlib.config import BookConfig, pretrain_config
    from pprlib.context import Context, book_data
    from pprlib.evaluation import evaluate
    from pprlib.models.backbones import BackboneConfig
    from pprlib.runs import TuneSettings, pretrain, tune
    from pprlib.train import TrainConfig

    def report(check, **values):
        print(json.dumps({"check": check, **values}), flush=True)

    config = BookConfig(n_users=2000, n_items=800, pretrain_epochs=3, device=device, deterministic=True, progress=False)
    _, sp = book_data(config)
    backbone = BackboneConfig()
    runs = [pretrain(sp, backbone, pretrain_config(config), use_cache=False).history for _ in range(2)]
    report(f"deterministic pre-training on {device}", losses=[runs[0].loss.tolist()[1:], runs[1].loss.tolist()[1:]],
           identical=bool(np.array_equal(runs[0].loss.to_numpy()[1:], runs[1].loss.to_numpy()[1:])))

    curves = {}
    for amp in (True, False):
        cfg = dataclasses.replace(pretrain_config(config), amp=amp)
        curves[amp] = pretrain(sp, backbone, cfg, use_cache=False).history
    bf16, fp32 = (curves[a].loss.to_numpy()[1:] for a in (True, False))
    report("bf16 autocast vs float32 pre-training", loss_bf16=bf16.tolist(), loss_fp32=fp32.tolist(),
           max_relative_loss_difference=float(np.max(np.abs(bf16 - fp32) / fp32)),
           val_ndcg10_bf16=float(curves[True]["val/NDCG@10"].iloc[-1]),
           val_ndcg10_fp32=float(curves[False]["val/NDCG@10"].iloc[-1]),
           seconds_per_epoch_bf16=float(curves[True].seconds.diff().median()),
           seconds_per_epoch_fp32=float(curves[False].seconds.diff().median()))

    pre = pretrain(sp, backbone, pretrain_config(config))
    cfg = TrainConfig(batch_size=64, max_epochs=3, patience=3, device=device, progress=False)
    model, _ = tune(Context(sp, pre, backbone), "PPR(light)", TuneSettings(train=cfg, lr={"PPR(light)": 1e-3}), "few", 0)
    test = sp.instances("test")
    gpu = evaluate(model.to(device).eval().full_sort_predict, sp, test, device=device)
    model = model.cpu()
    cpu = evaluate(model.full_sort_predict, sp, test, device="cpu")
    worst = max(float(np.abs(gpu[k] - cpu[k]).max()) for k in cpu)
    report(f"evaluation {device} vs cpu", max_abs_difference=worst, ndcg10_device=float(gpu["NDCG@10"].mean()),
           ndcg10_cpu=float(cpu["NDCG@10"].mean()))


if __name__ == "__main__":
    main()
