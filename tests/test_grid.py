"""The runners of a chapter's grid (pprlib.grid): batched in this process, and spread over a
local Ray cluster, both equal to the runs done one by one here."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from pprlib import comparisons, grid
from pprlib import experiments as ex

FEW_SHOT = ["most popular", "pre-train", "profile model", "ft", "PPR(light)", "PPR(full)"]
TINY = Path(__file__).resolve().parent.parent / "book" / "profiles" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny_ctx(module_cache):
    config = dataclasses.replace(ex.BookConfig.from_params(yaml.safe_load(TINY.read_text())), progress=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPR_CACHE_DIR", str(module_cache))
        return ex.prepare(config)


@pytest.fixture(scope="module")
def in_process(tiny_ctx, tmp_path_factory):
    """The grid run one by one here, in a cache of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPR_CACHE_DIR", str(tmp_path_factory.mktemp("here")))
        mp.delenv("PPR_RUNNER", raising=False)
        return _few_shot_grid(tiny_ctx)


def _few_shot_grid(ctx):
    """The few-shot chapter's runs: rates chosen on validation, then every method and seed."""
    lrs = comparisons.choose_lr(ctx, FEW_SHOT, "few")
    result = comparisons.compare(ctx, FEW_SHOT, ctx.settings(lr=lrs), "few")
    return lrs, result


def _assert_same(a, b):
    (lrs_a, res_a), (lrs_b, res_b) = a, b
    assert lrs_a == lrs_b
    assert res_a.per_instance.keys() == res_b.per_instance.keys()
    for key, per in res_a.per_instance.items():
        for metric, values in per.items():
            np.testing.assert_allclose(res_b.per_instance[key][metric], values, atol=1e-5, err_msg=f"{key} {metric}")


def test_runner_is_checked(monkeypatch):
    monkeypatch.setenv("PPR_RUNNER", "spark")
    with pytest.raises(ValueError, match="PPR_RUNNER must be one of"):
        grid.runner()


def test_batched_runner_gives_the_in_process_grid(tiny_ctx, in_process, tmp_path, monkeypatch):
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path / "batched"))
    monkeypatch.setenv("PPR_RUNNER", "batched")
    _assert_same(in_process, _few_shot_grid(tiny_ctx))


@pytest.mark.slow
def test_ray_cluster_gives_the_in_process_grid(tiny_ctx, in_process, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install -e '.[ray]')")
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path / "ray"))  # an empty cache: the workers compute every run
    monkeypatch.setenv("PPR_RUNNER", "ray")
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PPR_CACHE_DIR": str(tmp_path / "ray")}})
    try:
        pids = []
        original = grid.prefetch
        monkeypatch.setattr(grid, "prefetch", lambda *a: pids.extend(original(*a)) or pids)
        on_ray = _few_shot_grid(tiny_ctx)
    finally:
        ray.shutdown()
    assert len(pids) == len(list((tmp_path / "ray" / "runs").glob("*.pt"))), "every stored run came from Ray"
    assert len(set(pids)) <= 2 and os.getpid() not in pids, "the two Ray workers computed the runs"
    _assert_same(in_process, on_ray)
