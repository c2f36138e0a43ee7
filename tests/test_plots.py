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
    # skewed over seeds (ft: mean 0.52, median 0.50; PPR(light): mean 0.53, median 0.52), so a
    # median or a single seed drawn in place of the mean is seen
    for seed, (ft, light) in enumerate([(0.50, 0.52), (0.40, 0.45), (0.66, 0.62)]):
        rows += [{"method": "ft", "seed": seed, "metric": "NDCG@10", "value": ft},
                 {"method": "PPR(light)", "seed": seed, "metric": "NDCG@10", "value": light},
                 {"method": "ft", "seed": seed, "metric": "AUC", "value": 0.9}]
    return pd.DataFrame(rows)


def test_delta_frame_pairs_by_seed():
    delta = plots.delta_frame(_tidy(), "NDCG@10", "ft")
    assert list(delta.method.unique()) == ["PPR(light)"]
    assert delta.sort_values("seed").delta.round(6).tolist() == [0.02, 0.05, -0.04]
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


# ------------------------------------------------------------------------------------------
# the figures draw the tidy means: what the plot shows is read back from its artists
# ------------------------------------------------------------------------------------------
import numpy as np  # noqa: E402


def _close():
    matplotlib.pyplot.close("all")


def _heights(ax):
    """Bar heights drawn on ``ax`` (vertical bars), sorted."""
    return sorted(round(p.get_height(), 9) for p in ax.patches if p.get_width() > 0 and np.isfinite(p.get_height()))


def _line_points(ax):
    """Every (x, y) point of the lines drawn on ``ax``."""
    return {(round(float(x), 9), round(float(y), 9)) for line in ax.lines
            for x, y in zip(line.get_xdata(), line.get_ydata()) if np.isfinite(y)}




def test_training_curve_draws_the_metric_and_the_loss():
    history = pd.DataFrame({"epoch": [0, 1, 2, 3], "loss": [np.nan, 2.0, 1.5, 1.2],
                            "val/NDCG@10": [0.10, 0.20, 0.25, 0.24]})
    ax = plots.training_curve(history)
    metric = ax.lines[0]
    assert list(metric.get_xdata()) == [0, 1, 2, 3] and list(metric.get_ydata()) == [0.10, 0.20, 0.25, 0.24]
    right = [other for other in ax.figure.axes if other is not ax][0]
    assert list(right.lines[0].get_xdata()) == [1, 2, 3] and list(right.lines[0].get_ydata()) == [2.0, 1.5, 1.2]
    _close()


def test_noise_curve_draws_the_mean_over_seeds():
    rows = [{"noise": r, "method": m, "seed": s, "metric": "NDCG@10", "value": 0.5 - r * (0.1 if m == "ft" else 0.2) + 0.01 * s**2}
            for r in (0.0, 0.5) for m in ("ft", "PPR(light)") for s in (0, 1, 2)]
    rows.append({"noise": 0.0, "method": "ft", "seed": 0, "metric": "AUC", "value": 0.9})
    tidy = pd.DataFrame(rows)
    ax = plots.noise_curve(tidy)
    means = tidy[tidy.metric == "NDCG@10"].groupby(["noise", "method"]).value.mean()
    expected = {(round(r, 9), round(v, 9)) for (r, _), v in means.items()}
    assert expected <= _line_points(ax)
    assert ax.get_xlabel() == "profile noise rate r" and ax.get_ylabel() == "NDCG@10"
    _close()


def test_ablation_plot_bars_are_the_variant_means_and_the_line_is_ft():
    rows = []
    for metric, base in (("NDCG@10", 0.4), ("AUC", 0.8)):
        for s in (0, 1, 2):  # values skewed over seeds: the mean is not the median
            rows.append({"method": "ft", "mode": "ft", "variant": "ft", "seed": s, "metric": metric,
                         "value": base + 0.01 * s ** 2})
            for i, variant in enumerate(("full model", "w/o CL")):
                for j, mode in enumerate(("PPR(light)", "PPR(full)")):
                    rows.append({"method": f"{mode} {variant}", "mode": mode, "variant": variant, "seed": s,
                                 "metric": metric, "value": base + 0.03 * i + 0.011 * j + 0.002 * s ** 2})
    tidy = pd.DataFrame(rows)
    grid = plots.ablation_plot(tidy, metrics=("NDCG@10", "AUC"))
    for ax, metric in zip(grid.axes.flat, ("NDCG@10", "AUC")):
        part = tidy[(tidy.metric == metric) & (tidy.variant != "ft")]
        means = part.groupby(["variant", "mode"]).value.mean()
        assert _heights(ax) == sorted(round(v, 9) for v in means)
        ft = tidy[(tidy.metric == metric) & (tidy.variant == "ft")].value.mean()
        assert any(np.allclose(line.get_ydata(), ft) for line in ax.lines)
    _close()


def test_sparsity_bars_show_ours_and_the_papers():
    rows = [{"k": k, "method": m, "seed": s, "metric": "NDCG@10",
             "improvement": (2.0 if m == "PPR(light)" else 1.0) / k + s ** 2}  # skewed over seeds
            for k in (1, 3) for m in ("ft", "PPR(light)", "PPR(full)") for s in (0, 1, 2)]
    ours = pd.DataFrame(rows)
    paper = pd.DataFrame([{"k": 1, "method": "PPR(light)", "improvement": 5.0, "source": "paper"},
                          {"k": 3, "method": "PPR(light)", "improvement": 4.0, "source": "paper"}])
    grid = plots.sparsity_bars(ours, paper)
    mine = ours[ours.method != "ft"].groupby(["k", "method"]).improvement.mean()
    heights = [_heights(ax) for ax in grid.axes.flat]
    assert heights[0] == sorted(round(v, 9) for v in mine)
    assert heights[1] == [4.0, 5.0]
    _close()


def test_universality_plot_points_are_the_mean_differences():
    rows = []
    for b, backbone in enumerate(("SASRec", "GRU4Rec")):
        for s in (0, 1, 2):
            for m, gain in (("ft", 0.0), ("PPR(light)", 0.01 + 0.02 * b), ("PPR(full)", -0.005)):
                rows.append({"backbone": backbone, "method": m, "seed": s, "metric": "NDCG@10",
                             "value": 0.3 + 0.01 * s + gain + 0.001 * s ** 2 * (m != "ft")})  # skewed
    tidy = pd.DataFrame(rows)
    ax = plots.universality_plot(tidy)
    drawn = {round(x, 9) for x, _ in _line_points(ax)}
    for backbone, part in tidy.groupby("backbone"):
        for method, v in plots.delta_frame(part).groupby("method", observed=True).delta.mean().items():
            assert round(v, 9) in drawn, (backbone, method)
    _close()


def test_sensitivity_plot_points_are_the_setting_means():
    rows = [{"parameter": p, "setting": v, "method": "PPR(light)", "seed": s, "metric": "NDCG@10",
             "value": 0.3 + 0.01 * i + 0.001 * s ** 2}  # skewed over seeds: the mean is not the median
            for p, values in (("n_prompt", (1, 2)), ("weight", (0.0, 0.1))) for i, v in enumerate(values)
            for s in (0, 1, 2)]
    tidy = pd.DataFrame(rows)
    grid = plots.sensitivity_plot(tidy, reference=0.25)
    for ax, parameter in zip(grid.axes.flat, ("n_prompt", "weight")):
        means = tidy[tidy.parameter == parameter].groupby("setting").value.mean()
        ys = {y for _, y in _line_points(ax)}
        assert {round(v, 9) for v in means} <= ys
        assert any(np.allclose(line.get_ydata(), 0.25) for line in ax.lines)
    _close()


def test_method_bars_are_the_method_means():
    tidy = _tidy()
    ax = plots.method_bars(tidy)
    widths = sorted(round(p.get_width(), 9) for p in ax.patches if p.get_height() > 0)
    means = tidy[tidy.metric == "NDCG@10"].groupby("method").value.mean()
    assert widths == sorted(round(v, 9) for v in means)
    assert any(np.allclose(line.get_xdata(), means["ft"]) for line in ax.lines)  # the reference line
    _close()
