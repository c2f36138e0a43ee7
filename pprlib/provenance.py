"""What a result was computed with: seeds, device, threads and library versions.

Every chapter that reports results ends with :func:`provenance_table`, so a number in the book
can be traced to the settings and the software that produced it.
"""

from __future__ import annotations

import platform
from importlib import metadata

import pandas as pd
import torch

LIBRARIES = ("pprlib", "torch", "numpy", "pandas", "scipy", "papermill", "myst-nb", "jupyter-book")


def versions(libraries=LIBRARIES) -> dict[str, str]:
    """Installed version of each library ("not installed" when absent)."""
    out = {"python": platform.python_version()}
    for name in libraries:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def seed_lists(config) -> dict[str, str]:
    """The tuning seeds a chapter may run, by what runs them: the studies' ``seeds`` and, where
    they differ, the seeds of the few-shot and zero-shot main comparisons (a chapter that runs a
    main comparison uses those)."""
    def text(seeds):
        seeds = list(seeds)
        consecutive = len(seeds) > 3 and seeds == list(range(seeds[0], seeds[0] + len(seeds)))
        return f"{seeds[0]} to {seeds[-1]} ({len(seeds)} seeds)" if consecutive else ", ".join(map(str, seeds))

    out = {"tuning seeds (studies)": text(config.seeds)}
    main = getattr(config, "main_seed_list", None)
    zero = getattr(config, "zero_shot_seed_list", None)
    if main is not None and list(main) != list(config.seeds):
        out["tuning seeds (few-shot main comparisons)"] = text(main)
    if zero is not None and list(zero) != list(config.seeds):
        out["tuning seeds (zero-shot main comparisons)"] = text(zero)
    return out


def provenance(config=None, **extra) -> dict[str, str]:
    """Seeds, device and thread count of a run (``config``: a BookConfig), library versions,
    and anything passed in ``extra``."""
    from pprlib.train import resolve_device

    out: dict[str, str] = {}
    if config is not None:
        out["data / split / pre-training seed"] = str(config.seed)
        for label, seeds in seed_lists(config).items():
            out[label] = seeds
        device = resolve_device(config.device)
        out["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        out["deterministic CUDA kernels"] = "yes" if config.deterministic else "no"
    out["torch threads"] = str(torch.get_num_threads())
    from pprlib.grid import runner

    out["runner (PPR_RUNNER)"] = runner()
    out.update({k: str(v) for k, v in extra.items()})
    out.update(versions())
    return out


def provenance_table(config=None, **extra) -> pd.DataFrame:
    """:func:`provenance` as a two-column table for the end of a chapter. In a notebook it also
    records where the chapter's time went (:func:`pprlib.timing.totals`, glued as ``seconds_by_part``,
    which the book's benchmark reads from the executed chapters)."""
    record_seconds_by_part()
    return pd.DataFrame({"value": provenance(config, **extra)}).rename_axis("computed with")


def record_seconds_by_part() -> bool:
    """Glue :func:`pprlib.timing.totals` as ``seconds_by_part`` when running in a notebook kernel
    (False elsewhere: nothing to record into)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    if get_ipython() is None:
        return False
    from myst_nb import glue

    from pprlib import timing

    glue("seconds_by_part", timing.totals(), display=False)
    return True
