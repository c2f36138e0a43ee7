"""Many tuning runs as one: runs of one method that differ in seed and learning rate, trained
together as one batched model.

:func:`fit_many` takes what a list of :func:`pprlib.train.fit` calls takes and returns what they
return (each run's history; each model ends on its best epoch), but trains the runs that fit
together in one step: their parameters are stacked along a leading run dimension
(``torch.stack`` of each run's own parameters, so every run keeps its own tensors and its own
optimizer) and one ``torch.func.vmap`` over ``torch.func.functional_call`` computes every run's
loss at once. Per run, as when it runs alone:

* its initial weights (the model the caller built with its seed),
* its batch order and negatives (its own loader and data set, seeded as alone),
* its augmentation draws (its own generator; :meth:`~pprlib.models.ppr.PPRModel.contrastive_plan`
  draws them before the batched computation, in the order of a run alone),
* its learning rate, weight decay and optimizer (:func:`pprlib.train.make_optimizer`),
* its validation, early stopping and restore of the best weights: a run that stops leaves the
  stack and keeps its best weights while the others continue.

The batched loss is the model's own loss (:meth:`~pprlib.models.ppr.PPRModel.ppr_loss`, written
once) over padded batches with masks (runs' batches differ in size and width; padding never
reaches a real position: histories are right-padded and attention is causal), so results equal the runs done one by one up to float rounding
(``tests/test_batched.py`` compares them). Attention runs with the math kernel inside the
batch (the fused CPU kernels have no batching rule). Runs that cannot be batched (GRU4Rec,
dropout, the softmax loss, CL4SRec's sequence loss, data parallelism) are fitted one by one.

:func:`tune_many` and :func:`run_many` are the same for :func:`pprlib.runs.tune` and
:func:`pprlib.runs.run_method` (``run_many`` stores each result under its own cache key,
so a chapter reads them as if run one by one).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from pprlib import timing
from pprlib.data.batching import SequenceDataset, loader
from pprlib.data.protocol import ColdStartSplit, Instances
from pprlib.methods import method
from pprlib.models.ppr import ContrastiveConfig, PPRModel, SequenceCLConfig
from pprlib.runs import TuneSettings, run_key, run_method, stored_run, tested_run, tuning_job
from pprlib.train import (
    Epochs,
    TrainConfig,
    _autocast,
    deterministic_algorithms,
    distributed_world,
    fit,
    make_optimizer,
    resolve_device,
    validate,
)

if TYPE_CHECKING:
    from pprlib.context import Context


@dataclass
class FitRun:
    """The arguments of one :func:`pprlib.train.fit` call."""

    model: PPRModel
    params: list
    train: SequenceDataset
    split: ColdStartSplit
    val: Instances
    cfg: TrainConfig
    cl: ContrastiveConfig | None = None
    val_profiles: np.ndarray | None = None
    desc: str = "train"
    seq_cl: SequenceCLConfig | None = None


def batchable(run: FitRun) -> str | None:
    """Why ``run`` must be fitted alone, or ``None`` when it can join a batch."""
    model, cfg = run.model, run.cfg
    if not isinstance(model, PPRModel):
        return "not a PPRModel"
    if model.backbone_cfg.name != "sasrec":
        return f"backbone {model.backbone_cfg.name!r} (only SASRec is batched)"
    if model.backbone_cfg.dropout > 0:
        return "dropout draws from the global random stream"
    if cfg.loss != "bpr":
        return f"loss {cfg.loss!r} (only BPR is batched)"
    if run.seq_cl is not None and run.seq_cl.weight > 0:
        return "CL4SRec's sequence loss"
    if distributed_world()[1] > 1:
        return "data-parallel training"
    return None


def _signature(run: FitRun) -> tuple:
    """Runs with equal signatures train in one batch: the same architecture, the same tuned
    parameters, the same loss and device (learning rate, seed, epochs, patience may differ)."""
    m, cfg = run.model, run.cfg
    tuned = {id(p) for p in run.params}
    shapes = tuple((k, tuple(p.shape), id(p) in tuned) for k, p in m.named_parameters())
    same = dataclasses.replace(cfg, lr=1.0, seed=0, max_epochs=1, patience=1, min_delta=0.0, weight_decay=0.0,
                               optimizer="adamw", batch_size=1, progress=False)
    return (type(m.profile_emb).__name__, m.backbone_cfg, m.ppr_cfg, m.n_items, shapes,
            tuple((k, tuple(b.shape)) for k, b in m.named_buffers()), same, run.cl,
            str(resolve_device(cfg.device)))


def fit_many(runs: Sequence[FitRun], max_group: int | None = None, shared_order: bool = False) -> list[pd.DataFrame]:
    """``[fit(**vars(run)) for run in runs]``, with the runs that fit together trained as one
    batched model (at most ``max_group`` per batch); each model ends on its best epoch.

    ``shared_order``: the runs of a batch draw their batches in the order of the batch's first
    run (each keeps its own negatives, draws and initial weights). Not the runs done one by one:
    less padding, but the seeds no longer vary the batch order (measured in
    ``benchmarks/batched_tuning.py``); never used for results stored in the cache."""
    histories: list[pd.DataFrame | None] = [None] * len(runs)
    groups: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        if batchable(run) is None:
            groups.setdefault(_signature(run), []).append(i)
        else:
            histories[i] = fit(**vars(run))
    for members in groups.values():
        size = max_group or len(members)
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            if len(chunk) == 1:
                histories[chunk[0]] = fit(**vars(runs[chunk[0]]))
                continue
            for i, history in zip(chunk, _fit_group([runs[i] for i in chunk], shared_order), strict=True):
                histories[i] = history
    return histories


class _Run:
    """One run of a batch: its loader, generator and optimizer, and its epoch bookkeeping
    (:class:`pprlib.train.Epochs`, as :func:`pprlib.train.fit` keeps it)."""

    def __init__(self, run: FitRun, device: torch.device, order_seed: int):
        self.run = run
        self.optimizer = make_optimizer(run.params, run.cfg)
        self.generator = torch.Generator().manual_seed(run.cfg.seed)
        self.batches = loader(run.train, run.cfg.batch_size, shuffle=True, seed=order_seed,
                              pin_memory=device.type == "cuda")
        self.epochs = Epochs(run.model, run.params, run.cfg)

    def validate(self, device: torch.device) -> dict[str, float]:
        with timing.part("validation"):
            return validate(self.run.model, self.run.split, self.run.val, device, self.run.val_profiles)


def _fit_group(runs: list[FitRun], shared_order: bool = False) -> list[pd.DataFrame]:
    cfg = runs[0].cfg
    with deterministic_algorithms(cfg.deterministic):
        device = resolve_device(cfg.device)
        states = []
        for run in runs:
            run.model.to(device)
            states.append(_Run(run, device, runs[0].cfg.seed if shared_order else run.cfg.seed))
        loss_fn = _Loss(copy.deepcopy(runs[0].model), runs[0].cl)
        for state in states:
            state.epochs.start(state.validate(device))
        while any(s.epochs.active for s in states):
            active = [s for s in states if s.epochs.active]
            for s in active:
                s.run.model.train()
            sums = [(0.0, {}, 0) for _ in active]
            iterators = [iter(s.batches) for s in active]
            with timing.part("tuning steps"):
                for batches in itertools.zip_longest(*iterators):
                    stepping = [(j, s, b) for j, (s, b) in enumerate(zip(active, batches, strict=True)) if b is not None]
                    totals, parts = _step(loss_fn, [(s, b) for _, s, b in stepping], device, cfg.amp)
                    for (j, _, _), total, part in zip(stepping, totals, parts, strict=True):
                        t, p, n = sums[j]
                        for k, v in part.items():
                            p[k] = p.get(k, 0.0) + v
                        sums[j] = (t + total, p, n + 1)
            timing.count("optimizer steps", sum(n for _, _, n in sums))  # each run's, as when run alone
            for s, (total, parts_sum, n) in zip(active, sums, strict=True):
                if not s.epochs.stop_if_diverged(total, n):
                    s.epochs.end(s.validate(device), total, parts_sum, n)
        return [s.epochs.finish() for s in states]


def _step(loss_fn: _Loss, batch_runs: list[tuple[_Run, dict]], device: torch.device,
          amp: bool) -> tuple[list[float], list[dict]]:
    """One optimizer step of every run in ``batch_runs`` (each with its own next batch)."""
    model = loss_fn.model
    inputs = []
    for state, batch in batch_runs:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        inputs.append(model.loss_inputs(batch, state.run.cfg.targets, loss_fn.cl, state.generator))
    stacked = _stack_inputs(inputs)
    params = {}
    for name, _ in model.named_parameters():
        params[f"model.{name}"] = torch.stack([s.run.model.get_parameter(name) for s, _ in batch_runs])
    buffers = {f"model.{name}": torch.stack([dict(s.run.model.named_buffers())[name] for s, _ in batch_runs])
               for name, _ in model.named_buffers()}
    with _autocast(device, amp), sdpa_kernel([SDPBackend.MATH]):
        loss, rec, cl = vmap(lambda p, b, x: functional_call(loss_fn, (p, b), (x,)))(params, buffers, stacked)
    for state, _ in batch_runs:
        state.optimizer.zero_grad(set_to_none=True)
    loss.sum().backward()
    for state, _ in batch_runs:
        state.optimizer.step()
    totals = loss.detach().float().tolist()
    recs, cls = rec.detach().float().tolist(), cl.detach().float().tolist()
    parts = []
    for i, x in enumerate(inputs):
        part = {"rec": recs[i]}
        if bool(x.get("cl_on", False)):
            part["cl"] = cls[i]
        parts.append(part)
    return totals, parts


PADDING_MASKS = {"t_valid": "t_rows", "valid": "rows", "b_valid": "b_index"}
"""The masks :meth:`~pprlib.models.ppr.PPRModel.ppr_loss` reads in a padded stack, and the
list each one marks: its target positions, its anchors, its behaviour-based views."""


def _stack_inputs(inputs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Each key's tensors padded to their largest shape (zeros / False) and stacked on a new
    leading run dimension, with the masks of :data:`PADDING_MASKS` (True where a run's own
    entries are, False on its padding)."""
    inputs = [{**x, **{m: torch.ones_like(x[k], dtype=torch.bool) for m, k in PADDING_MASKS.items() if k in x}}
              for x in inputs]
    out = {}
    for key in inputs[0]:
        tensors = [x[key] for x in inputs]
        shape = [max(t.shape[d] for t in tensors) for d in range(tensors[0].ndim)]
        padded = []
        for t in tensors:
            pad = [p for d in reversed(range(t.ndim)) for p in (0, shape[d] - t.shape[d])]
            padded.append(F.pad(t, pad) if any(pad) else t)
        out[key] = torch.stack(padded)
    return out


class _Loss(nn.Module):
    """:meth:`PPRModel.ppr_loss <pprlib.models.ppr.PPRModel.ppr_loss>` (BPR, optional
    contrastive loss) as a module's forward, for ``functional_call`` over the stacked runs."""

    def __init__(self, model: PPRModel, cl: ContrastiveConfig | None):
        super().__init__()
        self.model, self.cl = model, cl

    def forward(self, x: dict[str, torch.Tensor]):
        return self.model.ppr_loss(x, self.cl)


def tune_many(ctx: Context, name: str, runs: Sequence[tuple], targets: str, *, max_group: int | None = None,
              shared_order: bool = False) -> list[tuple[PPRModel, pd.DataFrame]]:
    """``[tune(ctx, name, settings, targets, seed) for settings, seed in runs]``
    (:func:`pprlib.runs.tune`), the runs trained together by :func:`fit_many`. A run that
    cannot be batched is tuned right after its model is built, exactly as alone."""
    built, batch = [], []
    for settings, seed in runs:
        model, job = tuning_job(ctx, name, settings, targets, seed)
        if job is None:
            built.append((model.eval(), pd.DataFrame()))
        elif batchable(FitRun(**job)) is not None:
            built.append((model, fit(**job)))
        else:
            built.append(len(batch))
            batch.append(FitRun(**job))
    histories = fit_many(batch, max_group, shared_order)
    return [(batch[b].model, histories[b]) if isinstance(b, int) else b for b in built]


class _Missing(Exception):
    """Raised instead of computing: a result is not in the cache yet."""


def _raise_missing():
    raise _Missing


def stored_result(ctx: Context, name: str, settings: TuneSettings, targets: str, seed: int) -> dict | None:
    """The stored result of :func:`pprlib.runs.run_method` for these arguments, or ``None``
    when it is not in the cache (nothing is computed)."""
    try:  # stored_run reads a stored result and never writes one when compute fails
        return stored_run(run_key("run", ctx, name, settings, targets, seed), _raise_missing)
    except _Missing:
        return None


def run_many(ctx: Context, runs: Sequence[tuple], *, use_cache: bool = True,
             max_group: int | None = None) -> list[dict]:
    """``[run_method(ctx, name, settings, targets, seed, use_cache=use_cache) for name, settings,
    targets, seed in runs]`` (:func:`pprlib.runs.run_method`): the results already in the cache
    are read, the others tuned together by :func:`tune_many` (one batch per method and targets),
    evaluated one by one and stored under their own keys. A stored result's ``seconds`` counts
    its evaluation; its tuning time (the batch's wall clock) is the ``seconds`` column of its
    history."""
    out: list[dict | None] = [None] * len(runs)
    todo: dict[tuple, list[int]] = {}
    for i, (name, settings, targets, seed) in enumerate(runs):
        if not method(name).tuned:  # nothing to tune
            out[i] = run_method(ctx, name, settings, targets, seed, use_cache=use_cache)
            continue
        out[i] = stored_result(ctx, name, settings, targets, seed) if use_cache else None
        if out[i] is not None:
            continue
        todo.setdefault((name, targets), []).append(i)
    for (name, targets), members in todo.items():
        tuned = tune_many(ctx, name, [(runs[i][1], runs[i][3]) for i in members], targets, max_group=max_group)
        for i, result in zip(members, tuned, strict=True):
            _, settings, _, seed = runs[i]
            compute = functools.partial(tested_run, ctx, name, settings, targets, seed, tuned=result)
            out[i] = stored_run(run_key("run", ctx, name, settings, targets, seed), compute, use_cache)
    return out
