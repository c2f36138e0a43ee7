"""The benchmark suite: throughput, evaluation speed, peak memory, scaling, and the RecBole peer.

    python benchmarks/run.py                  # everything but the book and the peer (a few minutes)
    python benchmarks/run.py --quick          # smaller scaling study
    python benchmarks/run.py --book           # also time the whole default book on a fresh cache
    python benchmarks/run.py --peer PYTHON    # also RecBole's SASRec, run by PYTHON (a RecBole env)

Each case runs in a fresh subprocess, so its peak memory (max resident set size) is its own.
Results go to ``benchmarks/results/latest.{csv,md}`` with a description of the machine. These are
measurements, not tests: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


# --------------------------------------------------------------------------------------------
# the cases (each runs in its own process)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _data(n_users=6000, n_items=1000, **knobs):
    from pprlib.data.protocol import ProtocolConfig, split
    from pprlib.data.synthetic import SyntheticConfig, generate

    return split(generate(SyntheticConfig(n_users=n_users, n_items=n_items, seed=0, **knobs)), ProtocolConfig(seed=0))


def _epochs(model, params, train, cfg, epochs, cl=None):
    """Seconds of each of ``epochs`` training epochs (no validation)."""
    import torch

    from pprlib.data.batching import loader

    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    generator = torch.Generator().manual_seed(0)
    batches = loader(train, cfg.batch_size, shuffle=True, seed=0)
    times, targets = [], 0
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        for batch in batches:
            loss, _ = model.calculate_loss(batch, cfg.targets, cl, generator, cfg.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if len(times) == 0:
                targets += int(model.target_mask(batch, cfg.targets).sum())
        times.append(time.perf_counter() - start)
    return times, targets


def case_pretrain(epochs: int = 3, **data_args) -> dict:
    """Pre-training epochs of SASRec with the full-softmax loss (the book's setting)."""
    from pprlib.data.batching import SequenceDataset
    from pprlib.models import PPRConfig, PPRModel
    from pprlib.models.backbones import BackboneConfig
    from pprlib.train import TrainConfig

    max_len = data_args.pop("max_len", 100)
    sp = _data(**data_args)
    backbone = BackboneConfig(max_len=max_len)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, backbone, PPRConfig(prompt="none", profile_model=False))
    users, lengths = sp.pretrain_sequences()
    train = SequenceDataset(sp.data, users, lengths, backbone.max_len + 1, seed=0)
    cfg = TrainConfig(lr=5e-3, loss="ce", batch_size=256)
    times, targets = _epochs(model, model.configure("pretrain"), train, cfg, epochs)
    epoch = statistics.median(times)
    return {"epoch_s": epoch, "targets_per_s": targets / epoch, "targets": targets,
            "users": sp.data.n_users, "items": sp.data.n_items, "clicks": sp.data.n_interactions}


def case_tune(method: str, epochs: int = 3) -> dict:
    """Tuning epochs of one method on the cold tuning users (contrastive loss where it has one)."""
    from pprlib import experiments as ex
    from pprlib.data.batching import SequenceDataset
    from pprlib.models.backbones import BackboneConfig
    from pprlib.train import TrainConfig

    sp = _data()
    backbone = BackboneConfig()
    pre = ex.pretrain(sp, backbone, TrainConfig(lr=5e-3, loss="ce", max_epochs=1, progress=False), use_cache=False)
    model = ex.build_model(sp, pre, method, backbone, ex.TuneSettings())
    m = ex.method(method)
    train = SequenceDataset(sp.data, sp.tune_users, sp.data.lengths[sp.tune_users], backbone.max_len + 1, seed=0)
    cfg = TrainConfig(lr=1e-3, batch_size=64)
    cl = ex.ContrastiveConfig() if m.contrastive else None
    times, targets = _epochs(model, model.configure(m.mode), train, cfg, epochs, cl)
    epoch = statistics.median(times)
    return {"epoch_s": epoch, "targets_per_s": targets / epoch, "targets": targets}


def case_eval(full: bool) -> dict:
    """Evaluation of every warm user's test instance: 100 candidates, or full ranking."""
    import torch

    from pprlib.evaluation import evaluate
    from pprlib.models import PPRConfig, PPRModel

    sp = _data()
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, ppr=PPRConfig(prompt="none", profile_model=False)).eval()
    inst = sp.instances("warm_test")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        evaluate(model.full_sort_predict, sp, inst, full_ranking=full, device=torch.device("cpu"))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"seconds": seconds, "users_per_s": len(inst) / seconds, "users": len(inst)}


SCALES = {"users": [1, 4, 16], "items": [1, 4, 16], "history length": [1, 4, 16]}
QUICK_SCALES = {"users": [1, 4], "items": [1, 4], "history length": [1, 4]}


def scaling_args(axis: str, factor: int) -> dict:
    """Data (and model window) of the scaling study: base 1500 users, 250 items, the default
    length distribution; one axis multiplied by ``factor``."""
    if axis == "users":
        return {"n_users": 1500 * factor, "n_items": 1000}
    if axis == "items":
        return {"n_users": 1500, "n_items": 250 * factor}
    # longer histories: the cold threshold (which sets the length distribution) and the model's
    # window grow together, so attention sees longer sequences too
    return {"n_users": 1500, "n_items": 4000, "cold_threshold": 10 * factor, "max_length": 200 * factor,
            "max_len": 50 * factor}


def run_case(name: str, args: dict) -> dict:
    if name == "pretrain":
        out = case_pretrain(**args)
    elif name == "tune":
        out = case_tune(**args)
    elif name == "eval":
        out = case_eval(**args)
    elif name == "peer":
        from benchmarks.peer import ours

        out = ours(**args)
    else:
        raise ValueError(f"unknown case {name!r}")
    out["peak_mib"] = _peak_mib()
    return out


# --------------------------------------------------------------------------------------------
# the driver


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1), "gpu": gpu,
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d")}


def spawn(name: str, args: dict, timeout: int = 3600) -> dict:
    """Run one case in a fresh interpreter; returns its measurements (or the error)."""
    code = ("import json, sys; sys.path.insert(0, %r); from benchmarks.run import run_case; "
            "print('RESULT ' + json.dumps(run_case(%r, json.loads(sys.argv[1]))))") % (str(ROOT), name)
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "TQDM_DISABLE": "1"})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def time_book() -> dict:
    """The whole default book (every notebook, then the strict build) on a fresh cache."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PPR_CACHE_DIR": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pprlib", "book", "--profile", "default", "--jobs", "2",
                               "--force", "--build-dir", str(Path(tmp) / "_build")],
                              env=env, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        # peak memory of the largest process the book started (a kernel)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "ok": proc.returncode == 0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaling up to x4 only")
    parser.add_argument("--book", action="store_true", help="also time the whole default book (about 13 min)")
    parser.add_argument("--peer", metavar="PYTHON", help="python of an environment with recbole==1.2.1")
    parser.add_argument("--peer-epochs", type=int, default=200, help="RecBole's epoch limit (it stops early)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the result files")
    args = parser.parse_args(argv)

    rows = []

    def record(group, case, value, unit, result, note=""):
        row = {"group": group, "case": case, "value": value, "unit": unit,
               "peak_mib": round(result.get("peak_mib", float("nan")), 1), "note": note}
        rows.append(row)
        print(f"{group:>12} | {case:<36} {value:>12.4g} {unit:<14} peak {row['peak_mib']:.0f} MiB {note}", flush=True)

    def check(result, what):
        if "error" in result:
            print(f"{what}: failed: {result['error']}", flush=True)
            return False
        return True

    r = spawn("pretrain", {})
    if check(r, "pretrain"):
        record("train", "pre-training, default data (CE)", r["targets_per_s"], "targets/s", r,
               f"{r['epoch_s']:.2f} s per epoch")
    for method in ("ft", "PPR(light)", "PPR(full)"):
        r = spawn("tune", {"method": method})
        if check(r, method):
            record("train", f"tuning {method}, default data", r["targets_per_s"], "targets/s", r,
                   f"{r['epoch_s']:.3f} s per epoch")
    for full in (False, True):
        r = spawn("eval", {"full": full})
        if check(r, "eval"):
            record("evaluate", f"{'full ranking' if full else '100 candidates'}, {r['users']} users",
                   r["users_per_s"], "users/s", r, f"{r['seconds']:.2f} s")
    for axis, factors in (QUICK_SCALES if args.quick else SCALES).items():
        for factor in factors:
            r = spawn("pretrain", {"epochs": 1, **scaling_args(axis, factor)})
            if check(r, f"scaling {axis} x{factor}"):
                record("scaling", f"{axis} x{factor}", r["epoch_s"], "s per epoch", r,
                       f"{r['users']} users, {r['items']} items, {r['clicks']} clicks")
    if args.peer is not None or os.environ.get("RECBOLE_PYTHON"):
        from benchmarks.peer import compare

        for row in compare(args.peer or os.environ["RECBOLE_PYTHON"], args.peer_epochs):
            rows.append(row)
            print(row, flush=True)
    else:
        print("peer: skipped (no RecBole environment; pass --peer PYTHON, see benchmarks/README.md)")
    if args.book:
        r = time_book()
        record("book", "whole default book, fresh cache, --jobs 2", r["seconds"], "s", r,
               "ok" if r["ok"] else "FAILED")
    write(rows, machine(), args.out)
    return 0


def write(rows: list[dict], desc: dict, out: Path) -> None:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    for key, value in desc.items():
        frame[f"machine_{key}"] = value
    frame.to_csv(out / "latest.csv", index=False)
    lines = ["# Benchmark results", "", "Machine: " + ", ".join(f"{k} {v}" for k, v in desc.items()), "",
             "| group | case | value | unit | peak MiB | note |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['group']} | {r['case']} | {r['value']:.4g} | {r['unit']} | {r['peak_mib']} | {r['note']} |"
              for r in rows]
    (out / "latest.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'latest.csv'} and {out / 'latest.md'}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
