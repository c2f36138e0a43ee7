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
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def run_case(name: str, args: dict) -> dict:
    from pprlib.bench import case_eval, case_pretrain, case_tune, peak_mib

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
    out["peak_mib"] = peak_mib()
    return out


# --------------------------------------------------------------------------------------------
# the driver (the cases themselves are in pprlib.bench, so the book's performance page can run them)


def spawn(name: str, args: dict, timeout: int = 3600) -> dict:
    """Run one case in a fresh interpreter; returns its measurements (or the error)."""
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.run import run_case; "
            f"print('RESULT ' + json.dumps(run_case({name!r}, json.loads(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "TQDM_DISABLE": "1"})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def time_book() -> dict:
    """The whole default book (every notebook, then the strict build) on a fresh cache; memory
    is sampled every half second as the summed resident memory of the runner and its kernels."""
    import psutil  # installed with ipykernel

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PPR_CACHE_DIR": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pprlib", "book", "--profile", "default", "--jobs", "2",
                                 "--force", "--build-dir", str(Path(tmp) / "_build")],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        root, total_peak = psutil.Process(proc.pid), 0.0
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                total_peak = max(total_peak, sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.5)
        seconds = time.perf_counter() - start
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": total_peak, "largest_process_mib": largest, "ok": proc.returncode == 0}


GROUPS = ("train", "evaluate", "scaling", "peer", "book")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaling up to x4 only")
    parser.add_argument("--book", action="store_true", help="also time the whole default book (about 13 min)")
    parser.add_argument("--peer", metavar="PYTHON", help="python of an environment with recbole==1.2.1")
    parser.add_argument("--peer-epochs", type=int, default=200, help="RecBole's epoch limit (it stops early)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the result files")
    parser.add_argument("--only", nargs="+", choices=GROUPS, metavar="GROUP",
                        help=f"run only these groups ({', '.join(GROUPS)}); their rows replace the same rows "
                             "of the existing results, the others are kept")
    args = parser.parse_args(argv)
    wanted = set(args.only or GROUPS)

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

    if "train" in wanted:
        train_cases(record, check)
    if "evaluate" in wanted:
        eval_cases(record, check)
    if "scaling" in wanted:
        scaling_cases(record, check, args.quick)
    if "peer" in wanted:
        peer_cases(rows, args)
    if args.book or (args.only and "book" in wanted):
        r = time_book()
        record("book", "whole default book, fresh cache, --jobs 2", r["seconds"], "s", r,
               ("ok" if r["ok"] else "FAILED") + f"; peak = all processes together, largest one "
               f"{r['largest_process_mib']:.0f} MiB")
    from pprlib.bench import machine

    write(rows, machine(), args.out, replace_only=args.only is not None)
    return 0


def train_cases(record, check):
    r = spawn("pretrain", {})
    if check(r, "pretrain"):
        record("train", "pre-training, default data (CE)", r["targets_per_s"], "targets/s", r,
               f"{r['epoch_s']:.2f} s per epoch")
    for method in ("ft", "PPR(light)", "PPR(full)"):
        r = spawn("tune", {"method": method})
        if check(r, method):
            record("train", f"tuning {method}, default data", r["targets_per_s"], "targets/s", r,
                   f"{r['epoch_s']:.3f} s per epoch")


def eval_cases(record, check):
    for full in (False, True):
        r = spawn("eval", {"full": full})
        if check(r, "eval"):
            record("evaluate", f"{'full ranking' if full else '100 candidates'}, {r['users']} users",
                   r["users_per_s"], "users/s", r, f"{r['seconds']:.2f} s")


def scaling_cases(record, check, quick):
    from pprlib.bench import QUICK_SCALES, SCALES, scaling_args

    for axis, factors in (QUICK_SCALES if quick else SCALES).items():
        for factor in factors:
            r = spawn("pretrain", {"epochs": 1, **scaling_args(axis, factor)})
            if check(r, f"scaling {axis} x{factor}"):
                record("scaling", f"{axis} x{factor}", r["epoch_s"], "s per epoch", r,
                       f"{r['users']} users, {r['items']} items, {r['clicks']} clicks")


def peer_cases(rows, args):
    if args.peer is not None or os.environ.get("RECBOLE_PYTHON"):
        from benchmarks.peer import compare

        for row in compare(args.peer or os.environ["RECBOLE_PYTHON"], args.peer_epochs):
            rows.append(row)
            print(row, flush=True)
    else:
        print("peer: skipped (no RecBole environment; pass --peer PYTHON, see benchmarks/README.md)")


def write(rows: list[dict], desc: dict, out: Path, replace_only: bool = False) -> None:
    """Write the results; with ``replace_only`` the rows of earlier runs that were not measured
    again are kept (their machine columns say where they were measured)."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    for key, value in desc.items():
        frame[f"machine_{key}"] = value
    if replace_only and (out / "latest.csv").exists():
        old = pd.read_csv(out / "latest.csv")
        measured = set(frame.group)
        frame = pd.concat([old[~old.group.isin(measured)], frame], ignore_index=True)
        order = {g: i for i, g in enumerate(GROUPS)}
        frame = frame.sort_values("group", key=lambda g: g.map(order), kind="stable")
    rows = frame.to_dict(orient="records")
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
