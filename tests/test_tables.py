"""What a page shows of a table: units in the headers, rounded numbers, yes / no."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from pprlib import summary, tables


def _effects():
    return pd.DataFrame({"ΔF1 [95% interval]": ["+0.0100 [+0.0040, +0.0160]"], "p": ["0.010"], "MDE": ["0.0040"],
                         "δ (paper, our units)": ["+0.0025"], "verdict": ["reproduced"]}, index=["a vs b"])


def test_with_units_names_the_unit_of_every_number_and_keeps_the_cells():
    shown = tables.with_units(_effects())
    assert list(shown.columns) == ["ΔF1 [95% interval]", "p", "MDE (F1)", "paper's δ (F1)", "verdict"]
    assert shown.to_numpy().tolist() == _effects().to_numpy().tolist()
    assert tables.unit_of(_effects()) == "F1" and tables.unit_of(pd.DataFrame({"MDE": [1]})) is None
    # an explicit unit, every level of the columns, and more names
    two = pd.concat({"sampled": pd.DataFrame({"reference mean": [0.5], "effect": ["+0.01 [0, +0.02]"]})}, axis=1)
    shown = tables.with_units(two, "NDCG@10", columns={"sampled": "sampled NDCG@10"})
    assert list(shown.columns) == [("sampled NDCG@10", "reference's mean (NDCG@10)"),
                                   ("sampled NDCG@10", "effect (NDCG@10) [95% interval]")]
    # without a unit nothing is guessed
    assert list(tables.with_units(pd.DataFrame({"MDE": [1]})).columns) == ["MDE"]


@pytest.mark.parametrize("value, shown", [(True, "yes"), (np.bool_(False), "no"), (13.056757, "13.0568"),
                                          (np.float32(0.5), "0.5000"), (113536, "113,536"), (np.int64(16), "16"),
                                          (math.nan, "—"), (None, "—"), ("adamw", "adamw")])
def test_cells_show_no_raw_floats_and_no_python_truth_values(value, shown):
    assert tables.cell_text(value) == shown


def test_readable_and_mean_sd():
    frame = pd.DataFrame({"norm": [13.056757, 0.636066], "identical": [True, False]}, index=["u_s", "u_a"])
    html = tables.readable(frame, digits=2).to_html()
    assert "13.06" in html and "0.64" in html and ">yes<" in html and "13.0567" not in html and "True" not in html
    runs = pd.DataFrame({"mean": [0.68281, 0.5], "std": [0.00012, math.nan]}, index=["ft", "one run"])
    assert tables.mean_sd(runs, "NDCG@10 (mean ± sd)")["NDCG@10 (mean ± sd)"].tolist() == [
        "0.6828 ± 0.0001", "0.5000 (1 run)"]


def test_learning_rates_as_powers_of_ten():
    assert [tables.power_of_ten(v) for v in (1e-5, 0.0001, 0.001, 0.005)] == ["10⁻⁵", "10⁻⁴", "10⁻³", "0.005"]


def test_every_setting_of_the_backbone_and_the_training_is_explained():
    from pprlib.models import BackboneConfig
    from pprlib.train import TrainConfig

    for config in (BackboneConfig(), TrainConfig(weight_decay=1e-6)):
        settings = dataclasses.asdict(config)
        shown = tables.meanings_table(settings)
        assert list(shown.index) == list(settings) and list(shown.columns) == ["value", "what it is (unit)"]
        assert (shown["what it is (unit)"] != "").all(), shown[shown["what it is (unit)"] == ""].index.tolist()
        assert not shown.value.isin(["True", "False"]).any()
    shown = tables.meanings_table(dataclasses.asdict(TrainConfig(weight_decay=1e-6)))
    assert shown.loc["weight_decay", "value"] == "1.0 × 10⁻⁶" and shown.loc["deterministic", "value"] == "no"


@pytest.mark.parametrize("interval, ours, unit", [
    ("+0.0100 [+0.0040, +0.0160]", "+0.0100 [+0.0040, +0.0160] NDCG@10 (+2.00%)", "NDCG@10"),
    ("+1.8238 [-0.6135, +4.2611]", "+1.8238 [-0.6135, +4.2611] points (shortest minus longest k)",
     "points (shortest minus longest k)"),
    ("-0.0102 [-0.0449, +0.0244]", "-0.0102 [-0.0449, +0.0244] F1 (-1.70%)", "F1"),
    ("CIKM sizes 0.61%, AliEC sizes 1.17%", "CIKM sizes 0.61%, AliEC sizes 1.17%", "—"),
    ("—", "—", "—")])
def test_the_summary_names_the_unit_of_each_claims_effect(interval, ours, unit):
    assert summary.effect_unit(interval, ours) == unit


def test_the_settings_view_shows_every_meaning_in_full():
    from pprlib.train import TrainConfig

    html = tables.settings_view(dataclasses.asdict(TrainConfig())).to_html()
    assert tables.SETTING_MEANINGS["loss"] in html and "..." not in html
