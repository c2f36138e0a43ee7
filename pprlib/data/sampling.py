"""Negative sampling: items a user never clicked, drawn uniformly, vectorized."""

from __future__ import annotations

import numpy as np

from pprlib.data.schema import InteractionData


def sample_negatives(
    data: InteractionData,
    users: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    distinct: bool = True,
    max_rounds: int = 100,
) -> np.ndarray:
    """``(len(users), n)`` items drawn uniformly from those each user never clicked.

    With ``distinct`` the ``n`` items of a row are all different (the 99 fixed evaluation
    candidates); without it they are independent draws (training negatives). Rejection
    sampling over whole arrays: rows that still hold a clicked or repeated item are redrawn;
    rows still unfinished after ``max_rounds`` are drawn exactly from the user's unclicked items.
    """
    users = np.asarray(users, dtype=np.int64)
    n_items = data.n_items
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if distinct and len(users):  # distinct candidates need room
        # distinct items each user clicked (repeated clicks of one item count once)
        counts = np.bincount(data.clicked_keys() // (n_items + 1), minlength=data.n_users)
        room = n_items - counts[users]
        if (room < n).any():
            worst = int(users[np.argmin(room)])
            raise ValueError(
                f"user {data.user_ids[worst]!r} clicked {counts[worst]} distinct of {n_items} items: fewer than "
                f"{n} unclicked items remain to sample from"
            )
    out = rng.integers(1, n_items + 1, size=(len(users), n))
    todo = np.arange(len(users))
    for _ in range(max_rounds):
        sub = out[todo]
        bad = data.has_clicked(np.repeat(users[todo, None], n, axis=1), sub)
        if distinct:
            order = np.argsort(sub, axis=1, kind="stable")
            sorted_sub = np.take_along_axis(sub, order, axis=1)
            repeat = np.zeros_like(bad)
            repeat_sorted = np.zeros_like(bad)
            repeat_sorted[:, 1:] = sorted_sub[:, 1:] == sorted_sub[:, :-1]
            np.put_along_axis(repeat, order, repeat_sorted, axis=1)
            bad |= repeat
        rows, cols = np.nonzero(bad)
        if len(rows) == 0:
            return out
        out[todo[rows], cols] = rng.integers(1, n_items + 1, size=len(rows))
        todo = todo[np.unique(rows)]
    # rows rejection did not finish (users left with few unclicked items): draw them exactly
    all_items = np.arange(1, n_items + 1)
    for r in todo:
        free = np.setdiff1d(all_items, data.sequence(int(users[r])))
        if len(free) == 0:
            raise ValueError(f"user {data.user_ids[users[r]]!r} clicked every item: nothing to sample from")
        out[r] = rng.choice(free, size=n, replace=not distinct)
    return out
