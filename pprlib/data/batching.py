"""Tensors for the model: padded histories, profiles, targets, negatives.

Layout (the same for every backbone):

* Histories are **right-padded** with item 0: ``history[b, :lengths[b]]`` are the clicks in
  time order, the rest is padding.
* With ``n`` prompt tokens prepended, the model's input is ``[p_1..p_n, v_1..v_k, pad...]``
  and the user representation of an instance is read at index ``n + k - 1``: the last real
  item, or the last prompt token when the history is empty (zero-shot, ``k = 0``).
* A training *sequence* ``v_1..v_m`` yields ``m`` targets at once: the output after ``i``
  clicks (``i = 0..m-1``) predicts ``v_{i+1}``. ``i = 0`` is the zero-shot target (it needs a
  prompt or a profile model), ``i >= 1`` are few-shot targets.

Batches are cut from pre-built tensors by index (``__getitems__``), so there is no Python
loop over items or instances per batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pprlib.data.protocol import Instances
from pprlib.data.sampling import sample_negatives
from pprlib.data.schema import InteractionData


def gather_windows(data: InteractionData, users: np.ndarray, starts: np.ndarray,
                   lengths: np.ndarray, width: int | None = None) -> np.ndarray:
    """``(n, width)`` right-padded clicks ``sequence(u)[s : s + l]`` for each (u, s, l)."""
    users, starts, lengths = (np.asarray(a, dtype=np.int64) for a in (users, starts, lengths))
    width = int(lengths.max(initial=0)) if width is None else width
    cols = np.arange(width)
    index = data.offsets[users, None] + starts[:, None] + cols[None, :]
    valid = cols[None, :] < lengths[:, None]
    return np.where(valid, data.items[np.where(valid, index, 0)], 0)


def instance_histories(data: InteractionData, inst: Instances, max_history: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded histories (at most ``max_history`` most recent clicks) and their lengths."""
    starts = np.maximum(inst.positions - max_history, 0)
    lengths = inst.positions - starts
    width = max(1, int(lengths.max(initial=0)))
    return gather_windows(data, inst.users, starts, lengths, width), lengths


def sequence_windows(users: np.ndarray, lengths: np.ndarray, window: int,
                     first_start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each user's first ``lengths[u]`` clicks into windows of at most ``window`` clicks.

    Windows are laid from the end backwards and overlap by one click, so every click but the
    very first of a sequence is a target exactly once with as much history as fits.
    Returns (users, starts, lengths) of the windows.
    """
    users, lengths = np.asarray(users, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
    begin = np.zeros_like(lengths) if first_start is None else np.asarray(first_start, dtype=np.int64)
    step = window - 1
    n_win = np.where(lengths > 0, np.maximum(1, -(-(lengths - 1) // step)), 0)
    rep = np.repeat(np.arange(len(users)), n_win)
    k = np.arange(n_win.sum()) - np.repeat(np.cumsum(n_win) - n_win, n_win)  # 0 = last window
    end = lengths[rep] - k * step
    start = np.maximum(end - window, 0)
    return users[rep], begin[rep] + start, end - start


def collate(batch):
    """``__getitems__`` already returns a batch dict; DataLoader only passes it through."""
    return batch


class SequenceDataset(Dataset):
    """Training sequences: each item is a window of clicks of one user.

    A batch holds ``items`` (B, W) right-padded, ``lengths``, ``profile`` (B, m), ``user``,
    ``first`` (whether the window starts at the user's first click, so its position 0 is a
    real zero-shot target) and ``negatives`` (B, W): one uniformly drawn unclicked item per
    target, redrawn at every batch (hence every epoch). ``clicked`` (default ``data``) is the
    data whose clicks rule the negatives out (:attr:`ColdStartSplit.clicked`). With
    ``negatives=False`` (a loss that reads none, such as the softmax cross-entropy) batches
    hold no ``negatives`` and none are drawn.
    """

    def __init__(self, data: InteractionData, users: np.ndarray, lengths: np.ndarray,
                 window: int, seed: int = 0, profiles: np.ndarray | None = None,
                 clicked: InteractionData | None = None, negatives: bool = True):
        w_users, w_starts, w_lengths = sequence_windows(users, lengths, window)
        self.data = data
        self.clicked = data if clicked is None else clicked
        self.rng = np.random.default_rng(seed)
        self.negatives = negatives
        self.users = w_users
        self.items = torch.from_numpy(gather_windows(data, w_users, w_starts, w_lengths, window))
        self.lengths = torch.from_numpy(w_lengths)
        self.first = torch.from_numpy(w_starts == 0)
        source = data.profiles if profiles is None else profiles
        self.profiles = torch.from_numpy(np.ascontiguousarray(source[w_users]))
        self.user = torch.from_numpy(w_users)

    def __len__(self) -> int:
        return len(self.users)

    def __getitems__(self, index):
        index = torch.as_tensor(index, dtype=torch.long)
        lengths = self.lengths[index]
        width = max(1, int(lengths.max()))
        items = self.items[index, :width]
        batch = {"items": items, "lengths": lengths, "profile": self.profiles[index],
                 "user": self.user[index], "first": self.first[index]}
        if self.negatives:
            negatives = sample_negatives(self.clicked, np.repeat(self.users[index.numpy()][:, None], width, 1).ravel(),
                                         1, self.rng, distinct=False).reshape(len(index), width)
            batch["negatives"] = torch.from_numpy(negatives).masked_fill(items == 0, 0)
        return batch

    def __getitem__(self, i):
        return self.__getitems__([i])


class InstanceDataset(Dataset):
    """Evaluation (or instance-level training) batches: ``history`` (B, L) right-padded,
    ``lengths``, ``profile`` (B, m), ``target``, ``user`` and, when the instances have them,
    ``candidates`` (B, 1 + n_negatives) with the target in column 0."""

    def __init__(self, data: InteractionData, inst: Instances, max_history: int,
                 profiles: np.ndarray | None = None):
        history, lengths = instance_histories(data, inst, max_history)
        source = data.profiles if profiles is None else profiles
        self.tensors = {
            "history": torch.from_numpy(history),
            "lengths": torch.from_numpy(lengths),
            "profile": torch.from_numpy(np.ascontiguousarray(source[inst.users])),
            "target": torch.from_numpy(inst.targets),
            "user": torch.from_numpy(inst.users),
        }
        if inst.candidates is not None:
            self.tensors["candidates"] = torch.from_numpy(inst.candidates)

    def __len__(self) -> int:
        return len(self.tensors["target"])

    def __getitems__(self, index):
        index = torch.as_tensor(index, dtype=torch.long)
        batch = {k: v[index] for k, v in self.tensors.items()}
        width = max(1, int(batch["lengths"].max()))
        batch["history"] = batch["history"][:, :width]
        return batch

    def __getitem__(self, i):
        return self.__getitems__([i])


class BucketBatchSampler(torch.utils.data.Sampler):
    """Shuffled batches of similar length: less padding, same data every epoch.

    Indices are shuffled, cut into pools of ``pool`` batches, sorted by length inside a pool
    and cut into batches; the batch order is shuffled again. A new order every epoch, all
    drawn from a seeded generator.
    """

    def __init__(self, lengths: torch.Tensor, batch_size: int, seed: int = 0, pool: int = 50):
        self.lengths, self.batch_size, self.pool = lengths, batch_size, pool
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator)
        size = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        for k in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[k].tolist()


class ShardedBatchSampler(torch.utils.data.Sampler):
    """Process ``rank``'s share of every batch of ``sampler`` (data parallelism): all processes
    draw the same seeded batches and each keeps rows ``rank, rank + world, ...``. A batch
    smaller than ``world`` goes whole to every process (its averaged gradient is unchanged)."""

    def __init__(self, sampler, rank: int, world: int):
        if not 0 <= rank < world:
            raise ValueError(f"rank must lie in [0, {world}), got {rank}")
        self.sampler, self.rank, self.world = sampler, rank, world

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for batch in self.sampler:
            yield batch[self.rank :: self.world] if len(batch) >= self.world else batch


def loader(dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
           pin_memory: bool = False, rank: int = 0, world: int = 1) -> DataLoader:
    """A DataLoader over a dataset of this module (seeded, no worker processes).

    Training sets (``shuffle=True``) of a :class:`SequenceDataset` are batched by length
    (:class:`BucketBatchSampler`); evaluation keeps the dataset order. With ``world > 1``
    (distributed training) each process gets its shard of every training batch.
    """
    if shuffle and isinstance(dataset, SequenceDataset):
        sampler = BucketBatchSampler(dataset.lengths, batch_size, seed)
        if world > 1:
            sampler = ShardedBatchSampler(sampler, rank, world)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, pin_memory=pin_memory)
    if world > 1:
        raise ValueError("distributed batches are only made for shuffled SequenceDataset training sets")
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=collate, pin_memory=pin_memory)
