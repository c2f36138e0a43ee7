"""Where a chapter's grid of runs (methods x seeds x learning rates) is computed, chosen by
:mod:`pprlib.comparisons` (its ``runner`` argument, whose default is the environment variable
``PPR_RUNNER``):

* ``sequential`` (the default): one run after the other, in this process;
* ``batched``: the runs of each method trained together in this process (:mod:`pprlib.batched`);
* ``ray``: every run a Ray task (one CPU each, and one GPU each when the cluster has GPUs);
* ``ray-batched``: every method's runs one Ray task that trains them together.

The content-keyed cache is the meeting point: :func:`prefetch` computes the runs that are not
stored yet and stores each under the key of :func:`pprlib.runs.run_method`, and the
chapter then reads them one by one as it always does. With Ray the workers write to
``PPR_CACHE_DIR`` of this process, so on a cluster of several machines that folder must be
shared by all (and ``pprlib`` installed on each); ``PPR_RAY_ADDRESS`` names the cluster to join
(else a running ``ray.init`` is used, or a local cluster started). Ray is an optional extra
(``pip install 'pprlib[ray]'``), never needed for the other runners.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pprlib.batched import run_many, stored_result
from pprlib.cache import cache_dir
from pprlib.runs import run_method

RUNNERS = ("sequential", "batched", "ray", "ray-batched")


def runner() -> str:
    """The runner ``PPR_RUNNER`` names (``sequential`` when unset)."""
    value = os.environ.get("PPR_RUNNER", "").strip() or "sequential"
    if value not in RUNNERS:
        raise ValueError(f"PPR_RUNNER must be one of {', '.join(RUNNERS)}; got {value!r}")
    return value


def prefetch(ctx, runs: Sequence[tuple], mode: str | None = None) -> list[int]:
    """Compute into the cache the results of ``runs`` ((method, settings, targets, seed) each,
    the arguments of :func:`pprlib.runs.run_method` after the :class:`~pprlib.context.Context`
    ``ctx``) that are not stored yet, with the runner ``mode`` (:data:`RUNNERS`; default
    :func:`runner`, the environment's); nothing with ``sequential``. Returns the process id that
    computed each run that was missing (this process, or a Ray worker)."""
    mode = mode or runner()
    if mode not in RUNNERS:
        raise ValueError(f"runner must be one of {', '.join(RUNNERS)}; got {mode!r}")
    if mode == "sequential":
        return []
    missing = [r for r in runs if stored_result(ctx, *r) is None]
    if not missing:
        return []
    if mode == "batched":
        run_many(ctx, missing)
        return [os.getpid()] * len(missing)
    return _on_ray(ctx, missing, batched=mode == "ray-batched")


def _compute(ctx, runs: list[tuple], cache: str, batched: bool) -> list[int]:
    """A Ray task: the runs computed and stored in ``cache``; the worker's process id per run."""
    os.environ["PPR_CACHE_DIR"] = cache
    if batched:
        run_many(ctx, runs)
    else:
        for name, settings, targets, seed in runs:
            run_method(ctx, name, settings, targets, seed)
    return [os.getpid()] * len(runs)


def _on_ray(ctx, runs: list[tuple], batched: bool) -> list[int]:
    try:
        import ray
    except ImportError:
        raise RuntimeError("PPR_RUNNER=ray needs Ray, an optional extra: pip install 'pprlib[ray]' "
                           "(or unset PPR_RUNNER to run here)") from None

    cache = str(cache_dir())
    if not ray.is_initialized():
        ray.init(address=os.environ.get("PPR_RAY_ADDRESS") or None, include_dashboard=False,
                 runtime_env={"env_vars": {"PPR_CACHE_DIR": cache}})
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=1)(_compute)
    _ = ctx.split_key  # computed once here (cached on the context), not by every worker
    ctx_ref = ray.put(ctx)  # sent once, shared by every task
    if batched:  # one task per method and targets: its runs trained together
        groups: dict[tuple, list[tuple]] = {}
        for r in runs:
            groups.setdefault((r[0], r[2]), []).append(r)
        units = list(groups.values())
    else:
        units = [[r] for r in runs]
    pids = [pid for out in ray.get([task.remote(ctx_ref, u, cache, batched) for u in units]) for pid in out]
    lost = [r for r in runs if stored_result(ctx, *r) is None]
    if lost:
        raise RuntimeError(f"{len(lost)} of {len(runs)} runs computed by Ray workers are not in this process's "
                           f"cache ({cache}): on a cluster, set PPR_CACHE_DIR to a folder that every node shares")
    return pids
