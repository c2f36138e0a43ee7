"""Tuning runs one by one against the same runs trained together (pprlib.batched).

    python benchmarks/batched_tuning.py                  # the default few-shot grid, 3 repeats
    python benchmarks/batched_tuning.py --profile --step --no-grid   # where a run's time goes
    python benchmarks/batched_tuning.py --repeats 1 --device cuda    # on a GPU

The default profile's few-shot tuning grid: ft, PPR(light) and PPR(full), each over five
seeds x the profile's learning-rate grid (10 runs per method), tuned

* ``sequential``: one run after the other (``pprlib.runs.tune``),
* ``batched``: the method's 10 runs as one model, each with its own batch order (``tune_many``),
* ``shared order``: the same, but every run reads its batches in the first run's order (less
  padding; not the runs done one by one, so never stored in the cache),

each case in a fresh process with one CPU thread (as the book's kernels), ``--repeats`` times;
the median wall and CPU seconds are kept. Every run's test NDCG@10 is kept too: its spread over
seeds shows what sharing the batch order does to the seed-to-seed variance.

``--profile`` also times where one run of each method spends its time (cProfile: the loss's
forward pass, backward pass, optimizer step, validation, batch collation), one by one;
``--step`` one training step of 1 and 10 models, one by one and vmapped, at batch 1 (launches
only) and 64 (the book's batch). Results: ``results/batched_tuning.csv`` (+ ``.md``, and every
run's test NDCG@10 in ``batched_tuning_runs.csv``), ``results/tuning_profile.csv`` and
``results/batched_step.csv``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
METHODS = ("ft", "PPR(light)", "PPR(full)")
MODES = ("sequential", "batched", "shared order")


def _context(device: str):
    import torch

    from pprlib.config import BookConfig
    from pprlib.context import prepare

    torch.set_num_threads(1)
    return prepare(BookConfig(device=device, progress=False))


def case(name: str, mode: str, seeds: list[int], device: str) -> dict:
    """One method's grid (seeds x the profile's rates) tuned in ``mode``; seconds and results."""
    import torch

    from pprlib.batched import tune_many
    from pprlib.evaluation import evaluate
    from pprlib.runs import cold_profiles, instances, tune
    from pprlib.train import resolve_device

    ctx = _context(device)
    runs = [(ctx.settings(lr={name: lr}), seed) for seed in seeds for lr in ctx.config.lr_grid]
    tune(ctx, name, runs[0][0], "few", runs[0][1])  # warm-up (imports, kernels)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "sequential":
        tuned = [tune(ctx, name, s, "few", seed) for s, seed in runs]
    else:
        tuned = tune_many(ctx, name, runs, "few", shared_order=mode == "shared order")
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    test = instances(ctx.split, "test", "few", None)
    dev = resolve_device(device)
    ndcg, epochs = [], []
    for (model, history), (s, seed) in zip(tuned, runs, strict=True):
        scorer = model.to(dev).eval().full_sort_predict
        per = evaluate(scorer, ctx.split, test, full_ranking=False, device=dev,
                       profiles=cold_profiles(ctx.split, s.profile_noise, seed))
        ndcg.append(float(per["NDCG@10"].mean()))
        epochs.append(int(history["epoch"].max()))
    return {"wall_s": wall, "cpu_s": cpu, "lrs": [s.lr_for(name) for s, _ in runs], "seeds": [r[1] for r in runs],
            "test_ndcg10": ndcg, "epochs": epochs}


def profile_case(name: str, lr: float, device: str) -> dict:
    """Where one run spends its time (cProfile, cumulative seconds of each part)."""
    import cProfile
    import pstats

    from pprlib.runs import tune

    ctx = _context(device)
    settings = ctx.settings(lr={name: lr})
    tune(ctx, name, settings, "few", 0)  # warm-up
    parts = {"forward": "calculate_loss", "backward": "run_backward", "optimizer": "step", "validation": "validate",
             "collation": "__getitems__"}
    prof = cProfile.Profile()
    wall = time.perf_counter()
    prof.enable()
    _, history = tune(ctx, name, settings, "few", 0)
    prof.disable()
    wall = time.perf_counter() - wall
    stats = pstats.Stats(prof).stats
    out = {"wall_s": wall, "epochs": int(history["epoch"].max())}
    for label, fn in parts.items():
        out[f"{label}_s"] = max((v[3] for k, v in stats.items()
                                 if k[2] == fn or k[2].startswith(f"<method '{fn}'")), default=0.0)
    out["other_s"] = wall - sum(out[f"{label}_s"] for label in parts)
    return out


class _StepLoss(nn.Module):
    """The loss of :func:`step_case`: sequence states of a window batch plus the profile model."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, items, profile):
        x = self.model.profile_vector(profile)
        return (self.model.sequence_states(items, x) + self.model.profile_model(x)[:, None]).square().mean()


def step_case(batch: int, runs: int, device: str) -> dict:
    """Why batching helps where launches dominate and not where arithmetic does: one training
    step (forward and backward of the sequence states of a (batch, 9) window batch) of ``runs``
    models, one by one, against one vmapped step over their stacked parameters."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from pprlib.models.ppr import PPRModel

    torch.set_num_threads(1)
    dev = torch.device(device)
    models = [_StepLoss(PPRModel(1000, [3, 8, 10])).to(dev) for _ in range(runs)]
    items = torch.randint(1, 1001, (runs, batch, 9), device=dev)
    profile = torch.randint(0, 3, (runs, batch, 3), device=dev)
    params, buffers = stack_module_state(models)
    template = copy.deepcopy(models[0])
    batched = vmap(lambda p, b, it, pr: functional_call(template, (p, b), (it, pr)))

    def one_by_one():
        for r, m in enumerate(models):
            m(items[r], profile[r]).backward()

    def together():
        with sdpa_kernel([SDPBackend.MATH]):
            batched(params, buffers, items, profile).sum().backward()

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    out = {"batch": batch, "runs": runs}
    for label, fn in (("one_by_one_ms", one_by_one), ("batched_ms", together)):
        for _ in range(3):
            fn()
        sync()
        start = time.perf_counter()
        for _ in range(20):
            fn()
        sync()
        out[label] = (time.perf_counter() - start) / 20 * 1e3
    return out


def spawn(fn: str, *args) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); import benchmarks.batched_tuning as b; "
            f"print('RESULT ' + json.dumps(b.{fn}(*json.loads(sys.argv[1]))))")
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, cwd=ROOT,
                          env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{fn}{args} failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")


def main(argv=None) -> None:
    import numpy as np
    import pandas as pd

    from pprlib.bench import machine

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--profile", action="store_true", help="also the per-part profile of one run per method")
    ap.add_argument("--step", action="store_true", help="also one training step, alone and vmapped, at batch 1 and 64")
    ap.add_argument("--grid", action=argparse.BooleanOptionalAction, default=True, help="the tuning grid (default on)")
    ap.add_argument("--out", type=Path, default=RESULTS / "batched_tuning.csv")
    args = ap.parse_args(argv)
    info = machine()
    described = f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, device {args.device}, one thread"
    print(described, flush=True)
    _context(args.device)  # pre-trains once (cached) before any timed case
    if args.profile:
        rows = []
        for name in METHODS:
            for lr in (1e-4, 1e-3):
                r = spawn("profile_case", name, lr, args.device)
                rows.append({"method": name, "lr": lr, **r})
                print(rows[-1], flush=True)
        pd.DataFrame(rows).assign(machine=described).to_csv(RESULTS / "tuning_profile.csv", index=False)
    if args.step:
        steps = [spawn("step_case", b, r, args.device) for b in (1, 64) for r in (1, 10)]
        pd.DataFrame(steps).assign(machine=described).to_csv(RESULTS / "batched_step.csv", index=False)
        print(pd.DataFrame(steps).to_string(index=False), flush=True)
    if not args.grid:
        return
    rows, runs = [], []
    for name in METHODS:
        for mode in MODES:
            measured = [spawn("case", name, mode, args.seeds, args.device) for _ in range(args.repeats)]
            last = measured[-1]
            by_lr = pd.DataFrame({"lr": last["lrs"], "ndcg": last["test_ndcg10"]}).groupby("lr").ndcg
            rows.append({"method": name, "mode": mode, "runs": len(last["lrs"]), "repeats": args.repeats,
                         "wall_s": statistics.median(m["wall_s"] for m in measured),
                         "cpu_s": statistics.median(m["cpu_s"] for m in measured),
                         "epochs": sum(last["epochs"]),
                         "seed_sd_ndcg10": float(by_lr.std(ddof=1).mean()), "mean_ndcg10": float(by_lr.mean().mean())})
            runs += [{"method": name, "mode": mode, "lr": lr, "seed": s, "test_ndcg10": v, "epochs": e}
                     for lr, s, v, e in zip(last["lrs"], last["seeds"], last["test_ndcg10"], last["epochs"],
                                            strict=True)]
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    total = table.groupby("mode", sort=False)[["wall_s", "cpu_s", "epochs"]].sum().reset_index().assign(method="all")
    table = pd.concat([table, total], ignore_index=True).assign(machine=described)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    pd.DataFrame(runs).to_csv(args.out.with_name(args.out.stem + "_runs.csv"), index=False)
    shown = table.drop(columns="machine").round(4).replace({np.nan: ""})
    args.out.with_suffix(".md").write_text(f"Machine: {described}\n\n{shown.to_markdown(index=False)}\n")
    print(shown.to_string(index=False))


if __name__ == "__main__":
    main()
