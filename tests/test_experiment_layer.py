"""The experiment layer's shape: methods are data (code reads their fields, never their
names), the run functions take a Context whole, and every comparison fills one loop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pprlib import comparison, comparisons, methods, runs, studies
from pprlib.methods import METHODS, VARIANTS, Method


def test_every_method_has_its_own_glue_key_and_consistent_fields():
    keys = [m.key for m in METHODS.values()]
    assert len(set(keys)) == len(keys)
    assert methods.key("PPR(light)") == "light" and methods.key("most popular (cold)") == "popcold"
    for name, m in METHODS.items():
        assert (m.kind == "popularity") == (m.ppr is None)
        if m.variant is not None:  # a PPR method: find() names it back from its fields
            assert methods.find(m.mode, m.variant) == name
    # what the ablation removes is in the fields: no contrastive loss, one view, one shared prompt
    assert not METHODS[methods.find("full", "w/o CL")].contrastive
    assert METHODS[methods.find("light", "w/o prompt aug")].views == ("behaviour",)
    assert METHODS[methods.find("full", "shared prompt")].ppr.prompt == "shared"
    with pytest.raises(ValueError, match="kind"):
        Method("ranking", "x")
    with pytest.raises(ValueError, match="popularity method names its count"):
        Method("popularity", "x")


def test_ablation_reads_mode_and_variant_from_the_methods(monkeypatch):
    """The ablation frame's ``mode`` and ``variant`` come from each method's fields: renaming
    the PPR methods (labels only) changes nothing but the ``method`` column."""
    renamed = {("ft" if m.mode == "ft" else f"method {i}"): m for i, m in enumerate(METHODS.values())}
    monkeypatch.setattr(methods, "METHODS", renamed)
    monkeypatch.setattr(studies, "METHODS", renamed)
    names = studies.ablation_methods()
    assert len(names) == 1 + 2 * len(VARIANTS) and names[0] == "ft"

    def fake_compare(ctx, names, settings, targets):
        per = {(n, 0): {"NDCG@10": np.array([0.5]), "position": np.array([1.0])} for n in names}
        return comparison.Comparison(per, {}, {})

    monkeypatch.setattr(studies, "compare", fake_compare)
    monkeypatch.setattr(studies, "choose_lr", lambda ctx, names, targets, base: {n: 1e-3 for n in names})
    ctx = type("Ctx", (), {"tune_cfg": runs.TuneSettings().train, "settings": lambda self, **kw: runs.TuneSettings()})()
    tidy, _ = studies.ablation(ctx)
    rows = tidy.set_index("method")
    light, shared = methods.find("light"), methods.find("full", "shared prompt")
    assert rows.loc[light, "mode"] == light and rows.loc[light, "variant"] == "full model"
    assert rows.loc[shared, "mode"] == methods.find("full") and rows.loc[shared, "variant"] == "shared prompt"
    assert rows.loc["ft", "mode"] == "ft" and rows.loc["ft", "variant"] == "ft"


def test_a_popularity_method_is_ranked_by_its_kind_not_its_name(small_ctx, monkeypatch):
    """A popularity method of any name is scored by counting (no model is tuned)."""
    ctx = small_ctx
    monkeypatch.setitem(METHODS, "top items", Method("popularity", "top", popularity="cold_first"))

    def no_tuning(*args, **kwargs):
        raise AssertionError("a popularity method must not be tuned")

    monkeypatch.setattr(runs, "tune", no_tuning)
    out = runs.run_method(ctx, "top items", ctx.settings(), "zero", 0, use_cache=False)
    reference = runs.run_method(ctx, "most popular (cold)", ctx.settings(), "zero", 0, use_cache=False)
    np.testing.assert_array_equal(out["metrics"]["NDCG@10"], reference["metrics"]["NDCG@10"])


def test_compare_takes_the_context_and_fills_the_shared_loop(small_ctx, monkeypatch):
    seen = []
    real = comparison.collect

    def spy(run, names, seeds, **kwargs):
        seen.append((list(names), list(seeds)))
        return real(run, names, seeds, **kwargs)

    monkeypatch.setattr(comparisons, "collect", spy)
    result = comparisons.compare(small_ctx, ["most popular"], targets="few")
    assert seen == [(["most popular"], list(small_ctx.config.seeds))]
    assert result.methods == ["most popular"] and result.seeds == list(small_ctx.config.seeds)
    other = dataclasses.replace(small_ctx, config=dataclasses.replace(small_ctx.config, seeds=(5,)))
    assert comparisons.compare(other, ["most popular"]).seeds == [5]


def test_every_chapter_reads_its_settings_with_from_params():
    """A chapter's set-up cell (the first code cell after ``parameters``) builds its settings
    with ``BookConfig.from_params``, strictly, instead of typing the fields out."""
    import json
    from pathlib import Path

    from pprlib.config import PROFILE_KEYS, chapter_params

    chapters = 0
    for path in sorted((Path(__file__).resolve().parent.parent / "book").glob("*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        setup = "".join(cells[1]["source"]) if len(cells) > 1 else ""
        if "config = " not in setup:  # the set-up builds no settings (own_data builds them later)
            continue
        chapters += 1
        assert "BookConfig.from_params(" in setup and "BookConfig(" not in setup, path.name
    assert chapters >= 13
    namespace = {"seed": 3, "seeds": [0], "plt": object(), "__name__": "__main__"}
    assert chapter_params(namespace) == {"seed": 3, "seeds": [0]} and set(chapter_params(namespace)) <= PROFILE_KEYS
