"""Pre-training under torchrun with DistributedDataParallel (gloo, two CPU processes) follows
the single-process run on the same data."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(nproc: int, tmp_path) -> dict:
    out = tmp_path / f"history-{nproc}.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "pprlib.distributed", "--profile", "tiny", "--epochs", "4", "--history", str(out), "--no-cache"]
    env = {**os.environ, "PPR_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_two_processes_follow_one(tmp_path):
    one, two = _run(1, tmp_path), _run(2, tmp_path)
    assert one["world"] == 1 and two["world"] == 2
    assert one["key"] == two["key"]  # the same model as far as the cache is concerned
    a, b = one["history"], two["history"]
    assert len(a["loss"]) == len(b["loss"])
    loss_a, loss_b = np.array(a["loss"][1:]), np.array(b["loss"][1:])
    assert np.all(np.isfinite(loss_b)) and loss_b[-1] < loss_b[0]  # it learns
    assert np.allclose(loss_a, loss_b, rtol=0.005), (loss_a, loss_b)
    assert np.allclose(a["val/NDCG@10"], b["val/NDCG@10"], atol=0.01), (a["val/NDCG@10"], b["val/NDCG@10"])


def test_module_refuses_to_run_without_torchrun(capsys, monkeypatch):
    from pprlib.distributed import pretrain_main

    monkeypatch.delenv("RANK", raising=False)
    assert pretrain_main(["--profile", "tiny"]) == 2
    assert "torchrun" in capsys.readouterr().err
