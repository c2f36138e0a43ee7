"""Where a chapter's time goes: seconds and counts per part of the work, summed in this process.

The run layer marks its work with :func:`part`: pre-training, tuning steps, validation, test
evaluation, the learning-rate choice and the generator's ceilings. Each second is counted once,
in the innermost part that is running, unless an enclosing part is a *role*
(:data:`ROLES`: pre-training, learning-rate choice, ceilings), which takes the seconds of
everything inside it: the tuning steps of a pre-training count as pre-training, the runs that
:func:`~pprlib.comparisons.choose_lr` trains as the learning-rate choice. :func:`totals` is what the
chapters record at their end (:func:`pprlib.provenance.provenance_table`); the book's benchmark
(``benchmarks/book_time.py``) reads them per chapter. A cached result costs nothing here: the
seconds are those this process spent.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter

PARTS = ("pre-training", "tuning steps", "validation", "test evaluation", "learning-rate choice", "ceilings")
"""The parts a chapter's time is split into (the rest of a chapter's time is everything else)."""

ROLES = frozenset({"pre-training", "learning-rate choice", "ceilings"})

_seconds: Counter = Counter()
_counts: Counter = Counter()
_stack: list[list] = []  # [name, start, seconds of the parts inside it]


@contextlib.contextmanager
def part(name: str):
    """Count the seconds of the block as ``name`` (one of :data:`PARTS`), less the parts inside it,
    or as the outermost enclosing role."""
    if name not in PARTS:
        raise ValueError(f"unknown part {name!r}; choose from {PARTS}")
    frame = [name, time.perf_counter(), 0.0]
    _stack.append(frame)
    try:
        yield
    finally:
        _stack.pop()
        elapsed = time.perf_counter() - frame[1]
        role = next((f[0] for f in _stack if f[0] in ROLES), None)
        _seconds[role or name] += elapsed - frame[2]
        if _stack:
            _stack[-1][2] += elapsed


def count(name: str, n: int = 1) -> None:
    """Add ``n`` to the count ``name`` ("runs", "optimizer steps", "pre-trainings")."""
    _counts[name] += int(n)


def totals() -> dict:
    """Seconds per part and the counts so far in this process (plain numbers)."""
    return {"seconds": {p: round(float(_seconds[p]), 3) for p in PARTS},
            "counts": {k: int(v) for k, v in sorted(_counts.items())}}


def reset() -> None:
    """Start counting again from zero."""
    _seconds.clear()
    _counts.clear()
