"""What a run profile asks of this machine, estimated when the profile is checked, before any
chapter: a setting within its type but beyond the machine (a held-out population of two
billion users) is refused with the estimate and the setting to change, not met minutes later as
a ``MemoryError`` inside a chapter.

The estimate is a lower bound on purpose: it counts only what a run certainly holds at once, so
that it refuses only what cannot fit, never a profile that would have run. For generated data
that is the generator's dense click matrix (one row of ``max_length`` slots per user, int64 item
and a boolean mask: :data:`BYTES_PER_SLOT`) and the item embeddings with their gradients and
Adam's two moments. Real data (``dataset`` other than ``synthetic``) is sized by its files, not
by these settings, and is not estimated here.

The time a run takes is only stated, never refused (:func:`time_needed`): the seconds of a
measured ``make book`` (``benchmarks/results/book_time.csv``), chapter by chapter, scaled by the
profile's users, epochs and seeds. This module imports neither torch nor pandas at the top, so
that the book runner, which never imports torch, can print it.
"""

from __future__ import annotations

import csv
import os
import re
import statistics
from collections.abc import Mapping
from pathlib import Path

from pprlib.params import SettingError

BYTES_PER_SLOT = 8 + 1
"""Bytes per click slot of the generator's dense matrix: the item (int64) and its mask (bool)."""

COPIES_PER_WEIGHT = 4
"""An item embedding weight is held with its gradient and Adam's two moments."""


def available_memory() -> int | None:
    """Bytes of memory a new process can use here: ``MemAvailable`` of ``/proc/meminfo`` (else
    ``psutil``'s, else the physical memory from ``os.sysconf``), capped by a cgroup v2 limit
    (a container's ``memory.max``); ``None`` where none of them can be read."""
    found = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if found is None:
        try:
            import psutil

            found = int(psutil.virtual_memory().available)
        except ImportError:
            try:
                found = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            except (ValueError, OSError, AttributeError):
                return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            found = min(found, max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return found


def memory_needed(config) -> tuple[int, str, str]:
    """A lower bound of the bytes one chapter of a run with the settings ``config`` (a
    :class:`~pprlib.config.BookConfig`) holds at once, the setting that weighs most in it, and
    what it counts (for messages). Real data: ``(0, "", "")``."""
    from pprlib.data.synthetic import SyntheticConfig
    from pprlib.models.config import BackboneConfig

    if config.dataset != "synthetic":
        return 0, "", ""
    slots, d = SyntheticConfig.max_length, BackboneConfig.d
    populations = {"n_users": config.n_users, "heldout_users": config.heldout_users,
                   "zero_shot_users": config.zero_shot_users}
    generated = sum(populations.values())
    dose = 4 * config.dose_users  # a reduced world and three times as many held-out users
    users = max(generated, dose) * slots * BYTES_PER_SLOT
    items = config.n_items * d * 4 * COPIES_PER_WEIGHT
    if items > users:
        key = "n_items"
    elif dose > generated:
        key = "dose_users"
    else:
        key = max(populations, key=populations.get)
    what = (f"{generated:,} generated users (n_users + heldout_users + zero_shot_users = "
            f"{' + '.join(f'{v:,}' for v in populations.values())}) of {slots} click slots each "
            f"({slots * BYTES_PER_SLOT:,} bytes a user) and {config.n_items:,} items ({d * 4 * COPIES_PER_WEIGHT:,} "
            "bytes an item: embedding, gradient, two Adam moments)")
    if key == "dose_users":
        what = f"the dose study's {dose:,} users (4 x dose_users) of {slots} click slots each"
    return users + items, key, what


def check_memory(config, available: int | None = None) -> None:
    """Refuse settings whose :func:`memory_needed` exceeds the memory available here
    (:func:`available_memory`, or ``available`` bytes) with a
    :class:`~pprlib.params.SettingError` that names the setting to lower and both amounts."""
    needed, key, what = memory_needed(config)
    available = available_memory() if available is None else available
    if available is None or needed <= available:
        return
    raise SettingError("BookConfig", key, f"makes a run need at least {needed / 2**30:,.1f} GiB of memory, more than "
                                          f"the {available / 2**30:,.1f} GiB available on this machine: {what}; "
                                          f"lower {key}")


MEASURED_TIME = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "book_time.csv"
"""The measured seconds of each chapter of a ``make book`` and of its parts (``benchmarks/book_time.py``)."""

MEASURED_PROFILE = Path(__file__).resolve().parent.parent / "book" / "profiles" / "default.yaml"
"""The profile the measurement ran (the ``default`` profile)."""

SCALED_BY = {
    "pre-training": ("trained users", "pretrain_epochs"),
    "tuning steps": ("trained users", "tune_epochs", "seeds"),
    "validation": ("trained users", "tune_epochs", "seeds"),
    "learning-rate choice": ("trained users", "tune_epochs", "seeds"),
    "test evaluation": ("tested users", "seeds"),
    "ceilings": ("dose_users", "dose_levels"),
    "everything else": (),
}
"""What each measured part of a chapter's time (:data:`pprlib.timing.PARTS` and the rest: kernel
start, imports, tables, figures) is taken to grow with, in proportion: the users a run trains on
(``n_users``), the users it tests (``n_users + heldout_users + zero_shot_users``), the epochs, the
seeds of the three seed lists together, the dose study's users and levels. The grids of single
chapters (noise rates, shots, backbones, ...) and early stopping are not counted."""


def _amounts(params: Mapping) -> dict[str, float]:
    """What :data:`SCALED_BY` scales by, for the profile settings ``params``."""
    seeds = list(params.get("seeds") or [0])
    main = list(params.get("main_seeds") or seeds)
    zero = list(params.get("zero_shot_seeds") or main)
    users = params.get("n_users", 0)
    return {"trained users": users, "tested users": users + params.get("heldout_users", 0)
            + params.get("zero_shot_users", 0), "seeds": len(seeds) + len(main) + len(zero),
            "pretrain_epochs": params.get("pretrain_epochs", 1), "tune_epochs": params.get("tune_epochs", 1),
            "dose_users": params.get("dose_users", 1), "dose_levels": len(params.get("dose_levels") or [0])}


def _measurement(path: Path) -> tuple[dict[str, dict[str, float]], str, str, int]:
    """The latest measurement of ``path`` (a ``book_time.csv``): per chapter its seconds by part
    (:data:`SCALED_BY`'s), its label, its machine and the machine's cores (1 if unsaid)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no measurement")
    label = rows[-1]["label"]
    rows = [r for r in rows if r["label"] == label]
    machine = rows[0].get("machine", "")
    cores = re.search(r"(\d+) cores?", machine)
    parts = {r["chapter"]: {part: float(r[part]) for part in SCALED_BY} for r in rows}
    return parts, label, machine, int(cores.group(1)) if cores else 1


def _relative(path: Path) -> str:
    root = MEASURED_PROFILE.parent.parent.parent
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def time_needed(params: Mapping, chapters: list[str], jobs: int = 1, *, measured: Path = MEASURED_TIME,
                reference: Mapping | None = None) -> tuple[float | None, str]:
    """Roughly the seconds that executing ``chapters`` (notebook names, such as ``few_shot``) with
    the profile settings ``params`` takes from an empty cache with ``jobs`` chapters at once on a
    machine like the measured one, and the sentence the runner prints; ``(None, why)`` where there
    is no estimate (real data, which is sized by its files; no measurement at hand).

    Each measured chapter's parts are multiplied as :data:`SCALED_BY` says by the ratio of the
    profile's amounts to those of the measured profile (``reference``, default
    :data:`MEASURED_PROFILE`'s settings, which also stand for the settings ``params`` leaves
    out: they are :class:`~pprlib.config.BookConfig`'s defaults); a chapter not measured counts as the median measured
    one, scaled the same way. The chapters' sum is divided by the chapters run at once (``jobs``,
    at most the measured machine's cores: the measured seconds are of two chapters sharing two
    cores), and is never less than the longest chapter. A guide, not a promise: a faster or busier
    machine, cached results, early stopping and the chapters' own grids all change it."""
    if params.get("dataset", "synthetic") != "synthetic":
        return None, (f"no time estimate: the measured run is of generated data, and dataset "
                      f"{params['dataset']!r} is sized by its files")
    try:
        parts, label, machine, cores = _measurement(measured)
        if reference is None:  # the book's own file, plain YAML (pprlib.profiles imports this module)
            import yaml

            reference = yaml.safe_load(MEASURED_PROFILE.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        return None, f"no time estimate: no measurement to scale ({exc})"
    mine, theirs = _amounts({**reference, **params}), _amounts(reference)  # unset: the defaults, as measured
    ratio = {name: mine[name] / theirs[name] if theirs[name] else 1.0 for name in mine}
    median = {part: statistics.median(p[part] for p in parts.values()) for part in SCALED_BY}

    def seconds(chapter: str) -> float:
        measured_parts = parts.get(chapter, median)
        total = 0.0
        for part, by in SCALED_BY.items():
            factor = 1.0
            for name in by:
                factor *= ratio[name]
            total += measured_parts[part] * factor
        return total

    each = [seconds(c) for c in chapters]
    if not each:
        return 0.0, "nothing to execute"
    at_once = max(1, min(jobs, cores))
    total = max(sum(each) / at_once, max(each))
    if total < 60:
        shown = "under 1 min"
    elif total < 7200:
        shown = f"about {total / 60:,.0f} min"
    else:
        shown = f"about {total / 3600:,.1f} h"
    unmeasured = sum(c not in parts for c in chapters)
    extra = f"; {unmeasured} chapter(s) not measured count as the median one" if unmeasured else ""
    return total, (f"estimated {shown} for {len(chapters)} chapter(s) at --jobs {jobs} on a machine like "
                   f"{machine or 'the one measured'}: the measured seconds per chapter ({label}, "
                   f"{_relative(measured)}) scaled by users, epochs and seeds{extra}; from an empty "
                   "cache, a guide, not a promise")
