"""The figures' data: tidy frames computed correctly, figures drawn without error."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot

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


def test_figures_draw():
    sp = split(generate(SyntheticConfig(n_users=600, n_items=200, max_length=60)))
    assert plots.length_frame(sp).role.nunique() == 4
    share = plots.preference_frame(sp.data, "age")
    assert share.groupby("age", observed=True).share.sum().round(6).eq(1).all()
    for draw in (lambda: plots.length_histogram(sp), lambda: plots.preference_heatmap(sp.data, "age"),
                 lambda: plots.method_bars(_tidy())):
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


def _line_points(ax):
    """Every (x, y) point of the lines drawn on ``ax``."""
    return {(round(float(x), 9), round(float(y), 9)) for line in ax.lines
            for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True) if np.isfinite(y)}


def test_training_curve_draws_the_metric_and_the_loss():
    history = pd.DataFrame({"epoch": [0, 1, 2, 3], "loss": [np.nan, 2.0, 1.5, 1.2],
                            "val/NDCG@10": [0.10, 0.20, 0.25, 0.24]})
    ax = plots.training_curve(history)
    metric = ax.lines[0]
    assert list(metric.get_xdata()) == [0, 1, 2, 3] and list(metric.get_ydata()) == [0.10, 0.20, 0.25, 0.24]
    right = [other for other in ax.figure.axes if other is not ax][0]
    assert list(right.lines[0].get_xdata()) == [1, 2, 3] and list(right.lines[0].get_ydata()) == [2.0, 1.5, 1.2]
    _close()


def test_sensitivity_plot_points_are_the_setting_means():
    rows = [{"parameter": p, "setting": v, "method": "PPR(light)", "seed": s, "metric": "NDCG@10",
             "value": 0.3 + 0.01 * i + 0.001 * s ** 2}  # skewed over seeds: the mean is not the median
            for p, values in (("n_prompt", (1, 2)), ("weight", (0.0, 0.1))) for i, v in enumerate(values)
            for s in (0, 1, 2)]
    tidy = pd.DataFrame(rows)
    grid = plots.sensitivity_plot(tidy, reference=0.25)
    for ax, parameter in zip(grid.axes.flat, ("n_prompt", "weight"), strict=True):
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


def test_effect_plot_draws_each_effect_its_interval_and_the_papers_marker():
    from pprlib.evidence import effect_of_differences

    rng = np.random.default_rng(0)
    effects = {"a": effect_of_differences(rng.normal(0.01, 0.05, (3, 200)), 0.5),
               "b": effect_of_differences(rng.normal(-0.02, 0.05, (3, 200)), 0.5)}
    ax = plots.effect_plot(effects, {"b": 0.004, "a": float("nan")})
    line, caps, (bars,) = ax.containers[0].lines
    np.testing.assert_allclose(line.get_xdata(), [effects["a"].estimate, effects["b"].estimate])
    np.testing.assert_allclose(line.get_ydata(), [1, 0])  # first effect on top
    segments = np.array([seg[:, 0] for seg in bars.get_segments()])
    np.testing.assert_allclose(segments, [[effects["a"].lo, effects["a"].hi], [effects["b"].lo, effects["b"].hi]])
    (marker,) = ax.collections[1:] or [c for c in ax.collections if c is not bars]
    np.testing.assert_allclose(marker.get_offsets(), [[0.004, 0]])  # only b has a finite paper effect
    legend = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert "the paper's effect, in our units" in legend and "no difference" in legend
    assert {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)} == {"a": 1, "b": 0}
    matplotlib.pyplot.close(ax.figure)


def test_architecture_colours_say_what_ppr_light_tunes():
    from pprlib.models import BackboneConfig
    from pprlib.models.ppr import PPRConfig, PPRModel

    ax = plots.architecture()
    shown = {t.get_text() for t in ax.texts}
    assert {text for _, _, text, _ in plots.ARCHITECTURE_BOXES.values()} <= shown
    # the diagram's "tuned by light" parts are the model's groups that configure("light") leaves trainable
    model = PPRModel(50, [3, 4], BackboneConfig(), PPRConfig())
    model.configure("light")
    trainable = {g for g, params in model.groups().items() if params and all(p.requires_grad for p in params)}
    parts = {"embed": "profile_emb", "generator": "prompt", "profile_model": "profile_model",
             "clicks": "backbone", "transformer": "backbone"}
    for box, group in parts.items():
        assert plots.ARCHITECTURE_BOXES[box][3] == (group in trainable), box
    matplotlib.pyplot.close(ax.figure)


def test_architecture_arrows_follow_the_data_flow_and_end_at_the_boxes():
    from matplotlib.patches import ArrowStyle, FancyArrowPatch

    flow = [("profile", "embed"), ("embed", "generator"), ("generator", "prefix"), ("prefix", "transformer"),
            ("clicks", "transformer"), ("transformer", "us"), ("profile_model", "ua"), ("ua", "score"),
            ("us", "score")]
    assert set(flow) <= set(plots.ARCHITECTURE_ARROWS)
    for dpi in (50, 150):  # the page's resolution is not the one the figure was drawn at
        ax = plots.architecture()
        ax.figure.set_dpi(dpi)
        ax.figure.canvas.draw()
        arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
        assert len(arrows) == len(plots.ARCHITECTURE_ARROWS)
        assert all(isinstance(a.get_arrowstyle(), ArrowStyle.CurveFilledB) for a in arrows)  # a head at the end
        boxes = {name: text.get_bbox_patch().get_window_extent()
                 for name, text in zip(plots.ARCHITECTURE_BOXES, ax.texts, strict=True)}
        for arrow, (a, b) in zip(arrows, plots.ARCHITECTURE_ARROWS, strict=True):
            start, end = ax.transAxes.transform(arrow._posA_posB)
            # each end lies just outside its own box (the head is not hidden under it) ...
            assert not boxes[a].contains(*start) and not boxes[b].contains(*end), (a, b, dpi)
            # ... and points from the first box towards the second
            centre_a, centre_b = (np.array([bx.x0 + bx.x1, bx.y0 + bx.y1]) / 2 for bx in (boxes[a], boxes[b]))
            assert np.dot(end - start, centre_b - centre_a) > 0, (a, b, dpi)
            assert np.linalg.norm(end - start) > 10 * dpi / 100, (a, b, dpi)  # long enough to show its head
            # and close to them: within a twentieth of the figure's width
            for point, box in ((start, boxes[a]), (end, boxes[b])):
                outside = np.maximum([box.x0 - point[0], box.y0 - point[1]], [point[0] - box.x1, point[1] - box.y1])
                assert np.linalg.norm(np.maximum(outside, 0)) < 0.05 * ax.figure.bbox.width, (a, b, dpi)
        _close()


def test_preference_heatmaps_share_one_colour_scale_and_one_colour_bar():
    import dataclasses

    cfg = SyntheticConfig(n_users=600, n_items=200, max_length=60)
    datasets = {"default": generate(cfg), "no signal": generate(dataclasses.replace(cfg, profile_signal=0.0))}
    fig = plots.preference_heatmaps(datasets, "age")
    from matplotlib.collections import QuadMesh

    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(datasets)
    meshes = [c for ax in panels for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 2
    assert len({m.get_clim() for m in meshes}) == 1 and len({m.get_cmap().name for m in meshes}) == 1
    low, high = meshes[0].get_clim()
    tables = {name: plots.preference_table(data, "age") for name, data in datasets.items()}
    assert low == 0 and high == pytest.approx(max(t.to_numpy().max() for t in tables.values()))
    colour_bars = [ax for ax in fig.axes if ax not in panels]
    assert len(colour_bars) == 1 and "(%)" in colour_bars[0].get_ylabel()
    assert meshes[0].colorbar is not None and meshes[0].colorbar.ax is colour_bars[0]
    # the grid is in %: each age group's shares add up to 100
    assert np.allclose(tables["default"].sum(axis=1), 100)
    _close()


def test_the_time_plots_draw_one_bar_per_chapter_part_and_module_the_longest_on_top():
    chapters = pd.DataFrame({"seconds": [30.0, 10.0], "tuning steps": [20.0, 4.0], "everything else": [10.0, 6.0]},
                            index=["mechanism", "intro"])
    ax = plots.book_time_plot(chapters)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["intro", "mechanism"]  # barh: the first row on top
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == [4.0, 6.0, 10.0, 20.0]  # each part of each chapter
    starts = sorted(round(p.get_x(), 6) for p in ax.patches)
    assert starts == [0.0, 0.0, 4.0, 20.0]  # stacked: a chapter's second part starts where its first ends
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tuning steps", "everything else"]
    _close()
    ax = plots.suite_time_plot(pd.Series({"tests/test_notebooks.py": 180.0, "tests/test_resume.py": 66.0}))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["test_resume.py", "test_notebooks.py"]
    assert sorted(p.get_width() for p in ax.patches) == [66.0, 180.0]
    _close()


def test_the_largest_parts_are_named_with_their_shares_largest_first():
    from pprlib import bench

    share = pd.Series({"validation": 0.02, "tuning steps": 0.31, "pre-training": 0.26, "learning-rate choice": 0.27})
    assert bench.largest_parts(share) == "tuning steps 31 %, learning-rate choice 27 %, pre-training 26 %"
    assert bench.largest_parts(share, 1) == "tuning steps 31 %"
