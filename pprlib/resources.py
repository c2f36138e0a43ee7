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
"""

from __future__ import annotations

import os
from pathlib import Path

from pprlib.data.synthetic import SyntheticConfig
from pprlib.models.backbones import BackboneConfig
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
    :class:`~pprlib.context.BookConfig`) holds at once, the setting that weighs most in it, and
    what it counts (for messages). Real data: ``(0, "", "")``."""
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
