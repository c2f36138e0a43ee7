"""The figures' data: tidy frames computed correctly, figures drawn without error."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from pprlib import plots
from pprlib.data.protocol import split
from pprlib.data.synthetic import SyntheticConfig, generate


def _tidy():
    rows = []
    for seed, (ft, light) in enumerate([(0.50, 0.52), (0.40, 0.45), (0.60, 0.59)]):
        rows += [{"method": "ft", "seed": seed, "metric": "NDCG@10", "value": ft},
                 {"method": "PPR(light)", "seed": seed, "metric": "NDCG@10", "value": light},
                 {"method": "ft", "seed": seed, "metric": "AUC", "value": 0.9}]
    return pd.DataFrame(rows)


def test_delta_frame_pairs_by_seed():
    delta = plots.delta_frame(_tidy(), "NDCG@10", "ft")
    assert list(delta.method.unique()) == ["PPR(light)"]
    assert delta.sort_values("seed").delta.round(6).tolist() == [0.02, 0.05, -0.01]
    with pytest.raises(ValueError, match="reference method 'nope'"):
        plots.delta_frame(_tidy(), "NDCG@10", "nope")


def test_figures_draw():
    sp = split(generate(SyntheticConfig(n_users=600, n_items=200, max_length=60)))
    assert plots.length_frame(sp).role.nunique() == 4
    share = plots.preference_frame(sp.data, "age")
    assert share.groupby("age", observed=True).share.sum().round(6).eq(1).all()
    for draw in (lambda: plots.length_histogram(sp), lambda: plots.preference_heatmap(sp.data, "age"),
                 lambda: plots.method_bars(_tidy()), lambda: plots.delta_plot(_tidy())):
        assert draw() is not None
    with pytest.raises(ValueError, match="not a profile field"):
        plots.preference_frame(sp.data, "zip")
    matplotlib.pyplot.close("all")
