"""pprlib.sequence_model: the few-shot limits of the sequence model (the backbone changed one thing
at a time, ft tuned on each) and the sentences read from its table (pprlib.prose)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pprlib import mechanism, prose, sequence_model
from pprlib.comparison import Comparison
from pprlib.sequence_model import BOOK, CHANGES, Change

N = 400
CONTROL, WIDER, HALF = (next(c for c in CHANGES if test(c)) for test in
                        (lambda c: c.control, lambda c: c.backbone, lambda c: c.warm_share == 0.5))


def _world(moves: dict[str, float], seeds=(0, 1, 2), gap: float = -0.08):
    """ft on the book's backbone ``gap`` below the profile-blind scorer; each change moves it by ``moves[label]``."""
    rng = np.random.default_rng(0)
    none = rng.uniform(0.3, 0.6, N)
    ceilings = Comparison({("Bayes (none)", 0): {"NDCG@10": none},
                           ("Bayes (profile)", 0): {"NDCG@10": none + 0.02 + rng.normal(0, 0.01, N)}}, {}, {})
    per = {(label, s): {"NDCG@10": none + gap + move + rng.normal(0, 0.02, N) + rng.normal(0, 0.001)}
           for label, move in moves.items() for s in seeds}
    history = {label: pd.DataFrame({"epoch": [0, 1, 2, 3]}) for label in moves}
    return Comparison(per, {}, {}), ceilings, history, none


def test_the_table_gives_the_gap_and_what_each_change_moves_it():
    moves = {BOOK.label: 0.0, CONTROL.label: 0.001, WIDER.label: 0.04, HALF.label: -0.03}
    result, ceilings, history, none = _world(moves)
    table = sequence_model.gap_table(result, ceilings, history).set_index("change")
    assert list(table.index) == [BOOK.label, CONTROL.label, WIDER.label, HALF.label]  # CHANGES' order
    book = np.stack([result.per_instance[(BOOK.label, s)]["NDCG@10"] for s in (0, 1, 2)])
    assert table.loc[BOOK.label, "gap"] == pytest.approx((book - none).mean())
    wide = np.stack([result.per_instance[(WIDER.label, s)]["NDCG@10"] for s in (0, 1, 2)])
    assert table.loc[WIDER.label, "move"] == pytest.approx((wide - book).mean())
    # closing the gap is positive: a change that narrows a negative gap closes a positive share of it
    assert table.loc[WIDER.label, "closed"] == pytest.approx(-(wide - book).mean() / (book - none).mean())
    assert 0.4 < table.loc[WIDER.label, "closed"] < 0.6 and table.loc[HALF.label, "closed"] < 0
    assert table.loc[WIDER.label, "move lo"] > 0 and table.loc[HALF.label, "move hi"] < 0
    assert bool(table.loc[CONTROL.label, "control"]) and not table["control"].drop(CONTROL.label).any()
    assert table.loc[BOOK.label, "change over the book's backbone"] == "—"
    shown = sequence_model.gap_view(table.reset_index(), "sampled NDCG@10")
    assert shown.loc[WIDER.short, "share of the gap closed"] == f"{100 * table.loc[WIDER.label, 'closed']:+.0f} %"
    assert list(shown.index) == [c.short for c in (BOOK, CONTROL, WIDER, HALF)]
    assert "ft − profile-blind Bayes (sampled NDCG@10)" in shown.columns
    assert any("MDE" in c for c in shown.columns)


def test_the_sentences_judge_each_change_against_zero_and_the_control():
    moves = {BOOK.label: 0.0, CONTROL.label: 0.02, WIDER.label: 0.04, HALF.label: 0.012}
    result, ceilings, history, _ = _world(moves)
    table = sequence_model.gap_table(result, ceilings, history)
    text = prose.sequence_model_sentence(table, "sampled NDCG@10")
    rows = table.set_index("change")
    assert rows.loc[HALF.label, "move lo"] > 0  # above zero, but within what the control moved
    said = {c.label: next(p for p in text.split("; ") if c.label in p) for c in (WIDER, HALF)}
    assert "narrows it by" in said[WIDER.label] and ", more than a new pre-training alone" in said[WIDER.label]
    assert "narrows it by" in said[HALF.label] and "no more than a new pre-training alone" in said[HALF.label]
    assert "control" in text and rows.loc[CONTROL.label, "change over the book's backbone"] in text
    summary = prose.sequence_model_summary(table, "sampled NDCG@10")
    assert f"\u201c{WIDER.label}\u201d narrows it most" in summary and ", more than a new pre-training" in summary
    # when nothing narrows the gap, the summary says so, and names the change that moves it most
    moves = {BOOK.label: 0.0, CONTROL.label: 0.0004, WIDER.label: -0.0016, HALF.label: -0.0188}
    widened = sequence_model.gap_table(*_world(moves)[:3])
    summary = prose.sequence_model_summary(widened, "x")
    assert "no change to the sequence model narrows it detectably" in summary
    assert f"\u201c{HALF.label}\u201d moves it most" in summary and "widens it by" in summary
    # without a control, nothing but zero is the yardstick
    no_control = table[~table["control"]]
    assert ", more than a new pre-training" in prose.sequence_model_sentence(no_control, "x").split(HALF.label)[1]


def test_a_change_is_one_change_to_the_books_backbone(small_ctx):
    half = sequence_model.changed_context(small_ctx, HALF)
    warm = small_ctx.split.warm_users
    assert len(half.split.warm_users) == int(np.ceil(0.5 * len(warm)))
    assert set(half.split.warm_users) <= set(warm)
    quarter = sequence_model.changed_context(small_ctx, next(c for c in CHANGES if c.warm_share == 0.25)).split.warm_users
    assert set(quarter) <= set(half.split.warm_users)  # nested
    for name in ("tune_users", "val_users", "test_users"):  # the cold users are the book's
        assert np.array_equal(getattr(half.split, name), getattr(small_ctx.split, name))
    assert half.pre.key != small_ctx.pre.key and half.backbone == small_ctx.backbone
    wider = sequence_model.changed_context(small_ctx, WIDER)
    assert wider.backbone.d == 2 * small_ctx.backbone.d and wider.backbone.ffn == 2 * small_ctx.backbone.ffn
    assert wider.pre.state["item_emb.weight"].shape[1] == 2 * small_ctx.backbone.d
    budget = next(c for c in CHANGES if c.pretrain.get("max_epochs"))
    cfg = sequence_model.changed_context(small_ctx, budget).pretrain_cfg
    assert (cfg.max_epochs, cfg.patience, cfg.min_delta) == (2 * small_ctx.pretrain_cfg.max_epochs,
                                                             2 * small_ctx.pretrain_cfg.patience, 0.0)
    assert sequence_model.changed_context(small_ctx, CONTROL).pretrain_cfg.seed == 1
    assert sequence_model.changed_context(small_ctx, BOOK) is small_ctx
    with pytest.raises(ValueError, match="warm_share"):
        Change("none of them", "none", warm_share=0.0)


def test_the_study_tunes_ft_on_each_backbone_and_tests_on_the_ceilings_instances(small_ctx):
    changes = (BOOK, HALF)
    result, pretrainings = sequence_model.study(small_ctx, (0,), changes)
    assert set(result.per_instance) == {(BOOK.label, 0), (HALF.label, 0)}
    assert set(pretrainings) == {BOOK.label, HALF.label}
    ceilings = mechanism.ceiling_comparison(small_ctx.split, small_ctx.test_population, n_samples=32,
                                            scorers=("Bayes (profile)", "Bayes (none)")).only("few")
    table = sequence_model.gap_table(result, ceilings, pretrainings, changes=changes)
    assert list(table.change) == [BOOK.label, HALF.label] and (table.seeds == 1).all()
    # the book's row is the few-shot chapter's ft run (the same cache key)
    from pprlib.comparisons import choose_lr, compare
    lr = choose_lr(small_ctx, ["ft"], "few")
    same = compare(small_ctx, ["ft"], dataclasses.replace(small_ctx.settings(), lr=lr), "few", [0]).only("few")
    assert np.array_equal(same.per_instance[("ft", 0)]["NDCG@10"], result.per_instance[(BOOK.label, 0)]["NDCG@10"])
