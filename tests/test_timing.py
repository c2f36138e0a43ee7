"""pprlib.timing: each second counted once, in the innermost part or the enclosing role."""

from __future__ import annotations

import time

import pytest

from pprlib import timing


@pytest.fixture(autouse=True)
def _fresh():
    timing.reset()
    yield
    timing.reset()


def test_a_part_counts_its_own_seconds_without_the_parts_inside_it():
    with timing.part("test evaluation"):
        time.sleep(0.05)
        with timing.part("validation"):
            time.sleep(0.1)
    s = timing.totals()["seconds"]
    assert s["validation"] == pytest.approx(0.1, abs=0.03)
    assert s["test evaluation"] == pytest.approx(0.05, abs=0.03)  # not 0.15: the inner part is its own


def test_a_role_takes_the_seconds_of_everything_inside_it():
    with timing.part("learning-rate choice"):
        with timing.part("tuning steps"):
            time.sleep(0.05)
        with timing.part("validation"):
            time.sleep(0.05)
    with timing.part("tuning steps"):
        time.sleep(0.02)
    s = timing.totals()["seconds"]
    assert s["learning-rate choice"] == pytest.approx(0.1, abs=0.03)
    assert s["validation"] == 0 and s["tuning steps"] == pytest.approx(0.02, abs=0.015)


def test_unknown_parts_are_refused_and_counts_add_up():
    with pytest.raises(ValueError, match="unknown part"):
        with timing.part("coffee"):
            pass
    timing.count("runs")
    timing.count("optimizer steps", 7)
    assert timing.totals()["counts"] == {"optimizer steps": 7, "runs": 1}


def test_a_tuning_run_and_the_learning_rate_choice_are_counted(small_ctx):
    from pprlib.comparisons import choose_lr
    from pprlib.runs import run_method

    settings = small_ctx.settings(lr={"ft": 3e-3})
    run_method(small_ctx, "ft", settings, "few", 0, use_cache=False)
    t = timing.totals()
    assert t["counts"]["runs"] == 1 and t["counts"]["optimizer steps"] > 0
    assert t["seconds"]["tuning steps"] > 0 and t["seconds"]["validation"] > 0 and t["seconds"]["test evaluation"] > 0
    assert t["seconds"]["learning-rate choice"] == 0
    timing.reset()
    choose_lr(small_ctx, ["ft"], "zero", seed=0)  # cached or not: its time is the choice's
    t = timing.totals()["seconds"]
    assert t["learning-rate choice"] > 0 and t["tuning steps"] == 0 and t["test evaluation"] == 0


def test_a_pre_training_counts_as_pre_training(tmp_path, monkeypatch):
    from pprlib.config import BookConfig
    from pprlib.context import prepare
    from pprlib.data.synthetic import SyntheticConfig

    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    prepare(BookConfig(n_users=200, n_items=150, heldout_users=0, zero_shot_users=0, pretrain_epochs=1,
                       progress=False), synthetic=SyntheticConfig(n_users=200, n_items=150, max_length=30))
    t = timing.totals()
    assert t["counts"]["pre-trainings"] == 1 and t["seconds"]["pre-training"] > 0
    assert t["seconds"]["tuning steps"] == 0 and t["seconds"]["validation"] == 0  # all inside the role


def test_the_seconds_by_part_are_recorded_only_in_a_kernel():
    from pprlib.provenance import provenance_table, record_seconds_by_part

    assert record_seconds_by_part() is False  # no notebook kernel here
    table = provenance_table()
    assert "torch threads" in table.index and table.loc["runner (PPR_RUNNER)", "value"] == "sequential"


def test_the_provenance_lists_every_seed_list_a_chapter_may_run():
    from pprlib.config import BookConfig
    from pprlib.provenance import provenance

    out = provenance(BookConfig(seeds=(0, 1, 2), main_seeds=tuple(range(6)), zero_shot_seeds=tuple(range(12)),
                                progress=False))
    assert out["tuning seeds (studies)"] == "0, 1, 2"
    assert out["tuning seeds (few-shot main comparisons)"] == "0 to 5 (6 seeds)"
    assert out["tuning seeds (zero-shot main comparisons)"] == "0 to 11 (12 seeds)"
    same = provenance(BookConfig(seeds=(0, 1), main_seeds=(), zero_shot_seeds=(), progress=False))
    assert same["tuning seeds (studies)"] == "0, 1" and not any("main comparisons" in k for k in same)
