"""Few-shot: what limits the sequence model, measured by changing one thing about the backbone at a time.

In few-shot every tuned model sits below the profile-blind Bayes scorer (the best any model can
do from the clicks alone), so there the limit is the sequence model, not the prompt. Each
:class:`Change` is the book's backbone with one thing changed (its pre-training budget, its
width, the number of warm users it is pre-trained on, or only its pre-training seed: the control
that says how far a new pre-training moves alone); ft is tuned on each (its own learning rate
chosen on validation, the same seeds) and evaluated on the same instances as the generator's
ceilings. Per change: ft's score below the profile-blind scorer, and what the change moves it,
as an effect with its interval over tuning seeds and test instances (one pre-training per row:
the control row is the yardstick for what a pre-training's own randomness moves).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from pprlib.comparison import Comparison
from pprlib.comparisons import choose_lr, compare
from pprlib.context import Context
from pprlib.evidence import format_mde
from pprlib.runs import nested_share, pretrain
from pprlib.variant import captured, value_of_profile

PROBE = "ft"
"""The method tuned on every backbone: every tuned model sits at the same few-shot gap, and ft
reads nothing but the sequence model."""


@dataclass(frozen=True)
class Change:
    """One change to the book's backbone: to its architecture (``backbone``: fields of
    :class:`~pprlib.models.backbones.BackboneConfig`), to its pre-training settings (``pretrain``:
    fields of :class:`~pprlib.train.TrainConfig`), or to the share of the warm users it is
    pre-trained on (``warm_share``: a fixed, nested draw; validation keeps every warm user)."""

    label: str
    short: str  # the row's name in a table of the page's width
    backbone: dict = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)
    warm_share: float = 1.0
    control: bool = False  # changes nothing the sequence model can learn from (the yardstick row)

    def __post_init__(self) -> None:
        if not 0.0 < self.warm_share <= 1.0:
            raise ValueError(f"Change.warm_share must lie in (0, 1], got {self.warm_share!r} ({self.label!r})")


BOOK = Change("none (the book's backbone)", "book's backbone")

CHANGES = (
    BOOK,
    Change("control: another pre-training seed", "control (new seed)", pretrain={"seed": 1}, control=True),
    Change("pre-training budget: twice the epochs and patience, no minimum gain", "budget \u00d7 2",
           pretrain={"max_epochs": 2, "patience": 2, "min_delta": 0.0}),
    Change("width: twice the hidden width (d = 128)", "width \u00d7 2", backbone={"d": 2, "ffn": 2}),
    Change("warm users: half of them", "\u00bd of the warm users", warm_share=0.5),
    Change("warm users: a quarter of them", "\u00bc of the warm users", warm_share=0.25),
)
"""The book's backbone and each change. Numbers in ``pretrain`` and ``backbone`` multiply the
book's setting (``seed`` and ``min_delta`` replace it)."""

REPLACED = frozenset({"seed", "min_delta"})
MOVE = "change over the book's backbone"


def _scaled(config, changes: dict):
    values = {k: (v if k in REPLACED else type(getattr(config, k))(getattr(config, k) * v)) for k, v in changes.items()}
    return dataclasses.replace(config, **values)


def changed_context(ctx: Context, change: Change) -> Context:
    """``ctx`` with the backbone of ``change``, pre-trained (cached) on its warm users. The cold
    users, their instances and the tuning settings are ``ctx``'s."""
    if change == BOOK:
        return ctx
    split = ctx.split
    if change.warm_share < 1.0:
        split = dataclasses.replace(split, warm_users=nested_share(split.warm_users, change.warm_share,
                                                                   [split.config.seed, 11]))
    backbone = _scaled(ctx.backbone, change.backbone)
    pre_cfg = _scaled(ctx.pretrain_cfg, change.pretrain)
    pre = pretrain(split, backbone, pre_cfg)
    return dataclasses.replace(ctx, split=split, pre=pre, backbone=backbone, pretrain_cfg=pre_cfg)


def study(ctx: Context, seeds, changes=CHANGES, targets: str = "few", base=None, log=None) -> tuple[Comparison, dict]:
    """ft tuned on every changed backbone of ``changes`` (its rate chosen on validation for each)
    for ``seeds``; one :class:`Comparison` whose rows are named by the changes' labels, and each
    change's pre-training history (epochs, seconds)."""
    per, histories, pretrainings = {}, {}, {}
    for change in changes:
        c = changed_context(ctx, change)
        settings = base or c.settings()
        lr = choose_lr(c, [PROBE], targets, base=settings)
        result = compare(c, [PROBE], dataclasses.replace(settings, lr=lr), targets, list(seeds)).only(targets)
        per.update({(change.label, s): v for (_, s), v in result.per_instance.items()})
        histories.update({(change.label, s): h for (_, s), h in result.histories.items()})
        pretrainings[change.label] = c.pre.history
        if log:
            log(f"{change.label}: done")
    return Comparison(per, histories, {}), pretrainings


def gap_table(result: Comparison, ceilings: Comparison, pretrainings: dict, metric: str = "NDCG@10",
              changes=CHANGES) -> pd.DataFrame:
    """One row per change that ``result`` holds: the pre-training's epochs, ft's mean ``metric``,
    its score relative to the profile-blind Bayes scorer (negative: below it) and what the
    change moves it over the book's backbone, each with its interval over seeds and instances,
    the latter also as a share of the gap (positive: closes it) with its MDE."""
    rows = []
    value = value_of_profile(ceilings, metric)
    gap = captured(result, ceilings, BOOK.label, metric)
    for change in changes:
        if change.label not in {m for m, _ in result.per_instance}:
            continue
        took = captured(result, ceilings, change.label, metric)
        move = result.effect(change.label, BOOK.label, metric) if change != BOOK else None
        history = pretrainings[change.label]
        rows.append({"change": change.label, "short": change.short, "control": change.control,
                     "pre-training epochs": int(history["epoch"].max()),
                     metric: float(took.estimate + took.reference_mean),
                     "below the profile-blind scorer": took.text(),
                     MOVE: move.text() if move else "—",
                     "MDE": format_mde(move.mde) if move else "—",
                     "gap": took.estimate, "move": move.estimate if move else 0.0,
                     "move lo": move.lo if move else 0.0, "move hi": move.hi if move else 0.0,
                     "closed": -(move.estimate / gap.estimate) if move and gap.estimate < 0 else 0.0,
                     "value of the profile": value, "seeds": took.n_seeds})
    return pd.DataFrame(rows)


def gap_view(table: pd.DataFrame, metric_name: str | None = None) -> pd.DataFrame:
    """The columns of :func:`gap_table` a page shows, its rows by their short names
    (``metric_name``: the metric in words for the headers, default its column's name)."""
    metric = next(c for c in table.columns if "NDCG" in c)
    unit = metric_name or metric
    shown = table[["short", "pre-training epochs", metric, "below the profile-blind scorer", MOVE, "MDE"]].copy()
    shown[metric] = shown[metric].map(lambda v: f"{v:.4f}")
    shown.insert(5, "closed", [("—" if r.change == BOOK.label else f"{100 * r.closed:+.0f} %")
                               for r in table.itertuples()])
    return shown.rename(columns={
        "short": "change", metric: unit, "below the profile-blind scorer": f"ft − profile-blind Bayes ({unit})",
        MOVE: f"change over the book's backbone ({unit}) [95% interval]", "closed": "share of the gap closed",
        "MDE": f"MDE of the change ({unit})"}).set_index("change")
