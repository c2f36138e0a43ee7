"""The book's figures, each drawn with seaborn from a tidy DataFrame built here."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pprlib.data.protocol import ColdStartSplit
from pprlib.data.schema import InteractionData


def length_frame(split: ColdStartSplit) -> pd.DataFrame:
    """One row per user: clicks and the user's role in the protocol."""
    roles = np.full(split.data.n_users, "", dtype=object)
    roles[split.warm_users] = "warm (pre-training)"
    for name, users in (("cold: tuning", split.tune_users), ("cold: validation", split.val_users),
                        ("cold: test", split.test_users)):
        roles[users] = name
    frame = pd.DataFrame({"clicks": split.data.lengths, "role": roles})
    return frame[frame.role != ""]


def length_histogram(split: ColdStartSplit, ax=None):
    """Sequence lengths, warm vs cold, on a log axis (the tail is long)."""
    frame = length_frame(split)
    frame["group"] = np.where(frame.role.str.startswith("cold"), "cold", "warm")
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    bins = np.unique(np.round(np.logspace(0, np.log10(frame.clicks.max() + 1), 40)))
    sns.histplot(frame, x="clicks", hue="group", bins=bins, ax=ax, element="step", hue_order=["warm", "cold"])
    ax.set_xscale("log")
    ax.axvline(split.config.cold_threshold, color="black", ls="--", lw=1)
    ax.text(split.config.cold_threshold * 1.05, ax.get_ylim()[1] * 0.9, "cold threshold", fontsize=8)
    ax.set(xlabel="clicks per user (log scale)", ylabel="users")
    return ax


def preference_frame(data: InteractionData, field: str, top: int = 12) -> pd.DataFrame:
    """Share of each profile value's clicks that go to each item group.

    Groups are the generator's latent item groups when known, else the ``top`` most clicked
    items (real data), so the same figure works for both.
    """
    if field not in data.profile_fields:
        raise ValueError(f"field {field!r} is not a profile field of {data.name}; choose from {data.profile_fields}")
    j = data.profile_fields.index(field)
    latent = data.meta.get("latent")
    if latent is not None:
        group = latent["item_group"][data.items - 1]
        label = "latent item group"
    else:
        counts = np.bincount(data.items, minlength=data.n_items + 1)
        tops = np.argsort(-counts[1:])[:top] + 1
        keep = np.isin(data.items, tops)
        group = np.where(keep, data.items, -1)
        label = f"item (top {top})"
    frame = pd.DataFrame({field: np.asarray(data.vocab[field], dtype=object)[data.profiles[data.users, j]],
                          label: group})
    frame = frame[(frame[field] != data.vocab[field][0]) & (frame[label] != -1)]
    share = frame.groupby(field)[label].value_counts(normalize=True).rename("share").reset_index()
    order = [v for v in data.vocab[field][1:] if v in set(share[field])]
    share[field] = pd.Categorical(share[field], categories=order, ordered=True)
    return share


PREFERENCE_CMAP = "mako_r"
"""The one colour map of the preference heatmaps."""


def preference_table(data: InteractionData, field: str) -> pd.DataFrame:
    """:func:`preference_frame` as a grid, in %: one row per value of ``field``, one column per
    item group, a cell the share of that value's clicks that go to the group."""
    share = preference_frame(data, field)
    label = share.columns[1]
    return 100 * share.pivot_table(index=field, columns=label, values="share", observed=False).fillna(0)


def preference_heatmap(data: InteractionData, field: str, ax=None, title: str | None = None,
                       vmin: float | None = None, vmax: float | None = None, cbar: bool = True, cbar_ax=None):
    """How a profile field shapes which items users click: the share (%) of each value's clicks
    per item group. ``vmin`` / ``vmax`` fix the colour scale (:func:`preference_heatmaps` gives
    several panels one scale)."""
    table = preference_table(data, field)
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    sns.heatmap(table, cmap=PREFERENCE_CMAP, ax=ax, vmin=vmin, vmax=vmax, cbar=cbar, cbar_ax=cbar_ax,
                cbar_kws={"label": f"share of the {field} group's clicks (%)"} if cbar else None)
    ax.set(title=title or f"{field} shapes preferences")
    return ax


def preference_heatmaps(datasets: dict, field: str, width: float = 12, height: float = 3.6):
    """:func:`preference_heatmap` of each dataset (``datasets``: title -> data) side by side,
    on one colour scale (the same map, limits from 0 to the largest share of any panel) with one
    colour bar: a cell of one panel and a cell of another are compared by their colours."""
    tables = {title: preference_table(data, field) for title, data in datasets.items()}
    vmax = max(float(t.to_numpy().max()) for t in tables.values())
    fig = plt.figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, len(tables) + 1, sharey=False, width_ratios=[1] * len(tables) + [0.04])
    for k, (title, data) in enumerate(datasets.items()):
        preference_heatmap(data, field, ax=axes[k], title=title, vmin=0.0, vmax=vmax, cbar=k == 0,
                           cbar_ax=axes[-1] if k == 0 else None)
        if k:
            axes[k].set(ylabel="", yticklabels=[])
    return fig


def training_curve(history: pd.DataFrame, metric: str = "val/NDCG@10", ax=None, title: str | None = None):
    """Training loss and a validation metric per epoch (epoch 0 = before training)."""
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    sns.lineplot(history, x="epoch", y=metric, marker="o", ax=ax, color="C0", label=metric)
    ax.set(ylabel=metric, title=title)
    right = ax.twinx()
    sns.lineplot(history.dropna(subset=["loss"]), x="epoch", y="loss", marker="s", ax=right, color="C1",
                 label="training loss", legend=False)
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [metric, "training loss"], loc="center right")
    return ax


def method_bars(tidy: pd.DataFrame, metric: str = "NDCG@10", ax=None, reference: str | None = "ft",
                title: str | None = None):
    """Mean of ``metric`` per method with the standard deviation over seeds as error bars."""
    data = tidy[tidy.metric == metric]
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    order = list(dict.fromkeys(data.method))
    sns.barplot(data, y="method", x="value", order=order, errorbar="sd", ax=ax, color="C0", orient="h")
    if reference is not None and reference in order:
        ax.axvline(data[data.method == reference].value.mean(), color="black", ls="--", lw=1, label=reference)
        ax.legend(loc="lower right")
    low = data.value.min()
    ax.set(xlabel=f"{metric} (mean ± sd over seeds)", ylabel="", title=title,
           xlim=(max(0.0, low - 0.1 * (data.value.max() - low) - 0.02), None))
    return ax


def sensitivity_plot(tidy: pd.DataFrame, metric: str = "NDCG@10", reference: float | None = None,
                     labels: dict | None = None):
    """One panel per hyper-parameter: ``metric`` at each setting, mean ± sd over seeds; a
    dashed line at ``reference`` (e.g. ft's mean)."""
    data = tidy[tidy.metric == metric].copy()
    data["setting"] = data.setting.map(lambda v: f"{v:g}")
    grid = sns.catplot(data, kind="point", x="setting", y="value", hue="method", col="parameter",
                       errorbar="sd", sharex=False, sharey=True, height=2.8, aspect=0.9, col_wrap=4)
    for ax in grid.axes.flat:
        if reference is not None:
            ax.axhline(reference, color="black", ls="--", lw=1)
        ax.set(ylabel=metric)
    grid.set_titles("{col_name}")
    if labels:
        for ax in grid.axes.flat:
            ax.set_xlabel(labels.get(ax.get_title(), ax.get_title()))
            ax.set_title("")
    return grid


def explorer_plot(frame: pd.DataFrame):
    """The explorer over a grid of cold test users (:func:`pprlib.explorer.grid_frame`): left,
    the share of the clean top-k that survives profile noise at rate r, per model and history
    length; right, the share of each model's top-k (at the lowest noise rate, normally 0) that the pre-trained model
    without a prompt also recommends, against the history length."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    stability = frame[frame.metric == "stability"].copy()
    stability["history"] = stability.history.map(lambda h: f"{h} click" + ("" if h == 1 else "s"))
    sns.lineplot(stability, x="noise", y="value", hue="model", style="history", markers=True, ax=left)
    left.set(xlabel="profile noise rate r", ylabel="share of the clean top-k kept", ylim=(0, 1.02),
             title="stability under profile noise")
    overlap = frame[(frame.metric == "overlap with no prompt") & (frame.noise == frame.noise.min())]
    if len(overlap):
        sns.pointplot(overlap, x="history", y="value", hue="model", dodge=0.3, ax=right)
        right.set(ylim=(0, 1.02))
    right.set(xlabel="clicks of history", ylabel="share also in the no-prompt top-k",
              title="overlap with the pre-trained model")
    for ax in (left, right):
        if ax.get_legend() is not None:
            sns.move_legend(ax, "lower left", fontsize=8, title_fontsize=8)
    fig.tight_layout()
    return fig


def effect_plot(effects: dict, paper: dict | None = None, ax=None, title: str | None = None,
                xlabel: str = "NDCG@10 difference", reference: str = "ft"):
    """Paired differences with their 95 % intervals over seeds and test instances (one row per
    comparison, top to bottom in the order of ``effects``), the paper's effect in our units as
    a marker where it has one, and the line of no difference. ``effects`` maps a label to an
    :class:`~pprlib.evidence.Effect` (or its ``as_dict``); ``paper`` a label to a number."""
    from pprlib.evidence import Effect

    paper = paper or {}
    labels = list(effects)
    rows = [e if isinstance(e, Effect) else Effect.from_dict(e) for e in effects.values()]
    y = np.arange(len(labels))[::-1]
    est = np.array([e.estimate for e in rows])
    lo, hi = np.array([e.lo for e in rows]), np.array([e.hi for e in rows])
    own = ax is None
    ax = ax or plt.subplots(figsize=(6.5, 0.5 * len(labels) + 1.6), layout="constrained")[1]
    ax.axvline(0, color="grey", lw=1, ls="--", label="no difference")
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="D", color="black", ecolor="black", capsize=4,
                label="ours: effect, 95% interval (seeds and instances)")
    marked = [(yy, paper[lab]) for yy, lab in zip(y, labels, strict=True) if lab in paper and np.isfinite(paper[lab])]
    if marked:
        ax.scatter([v for _, v in marked], [yy for yy, _ in marked], marker="x", s=70, color="C3", zorder=3,
                   label="the paper's effect, in our units")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set(xlabel=f"{xlabel} (vs {reference})" if reference else xlabel, title=title)
    if own:  # below the axes, outside the data
        ax.figure.legend(loc="outside lower center", ncol=2, frameon=False, fontsize=9)
    else:
        ax.legend(loc="best", fontsize=8)
    return ax


ARCHITECTURE_BOXES = {  # name: (x, y, text, tuned by PPR(light))
    "profile": (0.08, 0.86, "profile\n(gender, age, ...)", None),
    "embed": (0.30, 0.86, "field embeddings\n$x_u$", True),
    "generator": (0.54, 0.86, "prompt generator\n(2-layer MLP)", True),
    "prefix": (0.83, 0.86, "prompt tokens\n$p_1 \\ldots p_n$", None),
    "clicks": (0.52, 0.55, "clicked items'\nembeddings $v_1 \\ldots v_k$", False),
    "transformer": (0.83, 0.55, "backbone: causal Transformer\nover $[p_1 \\ldots p_n, v_1 \\ldots v_k]$", False),
    "us": (0.83, 0.27, "$u_s$\n(at the last position)", None),
    "profile_model": (0.30, 0.27, "profile model\n(MLP)", True),
    "ua": (0.54, 0.27, "$u_a$", None),
    "score": (0.685, 0.04, "score of each candidate $v$:\n$(u_s + u_a) \\cdot v$", None),
}
"""The boxes of :func:`architecture`: centre (axes fraction), label and whether PPR(light) tunes
the part (True), keeps it frozen (False) or it holds no parameters (None). PPR(full) tunes every
part."""

ARCHITECTURE_ARROWS = [("profile", "embed"), ("embed", "generator"), ("generator", "prefix"),
                       ("prefix", "transformer"), ("clicks", "transformer"), ("transformer", "us"),
                       ("embed", "profile_model"), ("profile_model", "ua"), ("ua", "score"), ("us", "score")]
"""The data flow of :func:`architecture`, one arrow per pair (from, to): the profile becomes a
prompt in front of the clicks, the backbone reads both and gives u_s; the profile model gives
u_a; the score adds the two."""


def _box_edge(centre, half, towards):
    """Where the segment from a box's ``centre`` (half-sizes ``half``) towards the point
    ``towards`` leaves the box."""
    (x, y), (w, h) = centre, half
    dx, dy = towards[0] - x, towards[1] - y
    scale = min(w / abs(dx) if dx else np.inf, h / abs(dy) if dy else np.inf)
    return x + dx * scale, y + dy * scale


def architecture(ax=None):
    """PPR's architecture as a diagram drawn by code (so the book builds offline): the profile
    becomes prompt tokens in front of the clicks; arrows show the data flow; the colours say
    what PPR(light) tunes. Boxes and arrows are placed in axes coordinates, their ends computed
    from the boxes' sizes there, so the arrowheads stay at the boxes' edges at any resolution."""
    from matplotlib.patches import FancyArrowPatch, Patch

    ax = ax or plt.subplots(figsize=(9, 4.6))[1]
    fig = ax.figure
    colours = {True: "#f4c28a", False: "#b9d3ee", None: "#eeeeee"}
    boxes = {name: ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=3, transform=ax.transAxes,
                           bbox={"boxstyle": "round,pad=0.4", "facecolor": colours[tuned], "edgecolor": "#555555"})
             for name, (x, y, text, tuned) in ARCHITECTURE_BOXES.items()}
    fig.canvas.draw()  # the boxes' sizes, in axes fractions, hold at any resolution (fonts scale with the figure)
    to_axes = ax.transAxes.inverted()
    half = {}
    for name, box in boxes.items():
        (x0, y0), (x1, y1) = to_axes.transform(box.get_bbox_patch().get_window_extent().get_points())
        half[name] = ((x1 - x0) / 2 + 0.012, (y1 - y0) / 2 + 0.025)  # a small gap before each box
    for a, b in ARCHITECTURE_ARROWS:
        start, end = ARCHITECTURE_BOXES[a][:2], ARCHITECTURE_BOXES[b][:2]
        ax.add_patch(FancyArrowPatch(_box_edge(start, half[a], end), _box_edge(end, half[b], start),
                                     transform=ax.transAxes, arrowstyle="-|>", mutation_scale=14, lw=1.4,
                                     color="#333333", shrinkA=0, shrinkB=0, zorder=4))
    ax.legend(handles=[Patch(facecolor=colours[True], edgecolor="#555555", label="tuned by PPR(light) and PPR(full)"),
                       Patch(facecolor=colours[False], edgecolor="#555555", label="tuned by PPR(full) only (frozen in light)"),
                       Patch(facecolor=colours[None], edgecolor="#555555", label="no parameters")],
              loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=3, frameon=False, fontsize=8.5)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.axis("off")
    return ax


def dose_plot(frame: pd.DataFrame, metric: str = "NDCG@10", methods=("PPR(light)", "PPR(full)"),
              reference: str = "ft"):
    """The dose-response figure: one panel per swept signal and shot kind (rows of
    :func:`pprlib.mechanism.dose_frame`); each method's gain over ``reference`` with its 95 %
    interval and the value of the profile (the ceiling of any prompt, interval over instances)
    at each level, and the line of no difference."""
    frame = frame[frame.metric == metric]
    signals, shots = list(dict.fromkeys(frame.signal)), list(dict.fromkeys(frame.shots))
    fig, axes = plt.subplots(len(signals), len(shots), figsize=(4.2 * len(shots), 3.2 * len(signals)),
                             squeeze=False, sharey="row", layout="constrained")
    styles = {"value of the profile": dict(color="black", marker="s", ls="-")}
    styles.update({m: dict(color=f"C{i}", marker="D", ls="--") for i, m in enumerate(methods)})
    for r, signal in enumerate(signals):
        for c, shot in enumerate(shots):
            ax = axes[r, c]
            ax.axhline(0, color="grey", lw=1, ls=":")
            part = frame[(frame.signal == signal) & (frame.shots == shot)]
            for k, (what, style) in enumerate(styles.items()):
                rows = part[part.what == what].sort_values("level")
                x = rows.level + 0.01 * (k - 1)
                ax.errorbar(x, rows.estimate, yerr=[rows.estimate - rows.lo, rows.hi - rows.estimate], capsize=3,
                            label=what if what != "value of the profile" else "ceiling: value of the profile",
                            **style)
            ax.set(title=f"{shot}", xlabel=signal, ylabel=f"{metric} gain over {reference}" if c == 0 else None)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize=9)
    return fig


def tuning_user_plot(curve: pd.DataFrame, value: float, methods=("PPR(light)", "PPR(full)"), reference: str = "ft",
                     metric: str = "NDCG@10", ax=None):
    """The gain over ``reference`` of each method with its 95 % interval against the number of
    cold tuning users it was tuned on (rows of :func:`pprlib.mechanism.tuning_user_curve`), with
    the value of the profile (the most a prompt can add on these instances) as a reference line."""
    ax = ax or plt.subplots(figsize=(6.5, 3.4), layout="constrained")[1]
    ax.axhline(0, color="grey", lw=1, ls=":", label="no difference")
    ax.axhline(value, color="black", lw=1.2, label="ceiling: value of the profile")
    for k, name in enumerate(methods):
        rows = curve[curve.method == name].sort_values("tuning users")
        x = rows["tuning users"] * (1 + 0.02 * (k - 0.5))
        ax.errorbar(x, rows.gain, yerr=[rows.gain - rows.lo, rows.hi - rows.gain], capsize=3, marker="D",
                    color=f"C{k}", label=f"{name} − {reference}")
    ax.set_xscale("log")
    users = sorted(curve["tuning users"].unique())
    ax.set_xticks(users, [str(u) for u in users])
    ax.minorticks_off()
    ax.set(xlabel="cold tuning users", ylabel=f"{metric} gain over {reference}")
    ax.legend(fontsize=9, frameon=False, loc="best")
    return ax


def book_time_plot(chapters: pd.DataFrame, ax=None):
    """Where each chapter's seconds go (:func:`pprlib.bench.book_time`: one row per chapter, its
    ``seconds`` and one column per part), the longest chapter on top, the parts stacked."""
    ax = ax or plt.subplots(figsize=(7, 5))[1]
    chapters.drop(columns="seconds").iloc[::-1].plot.barh(stacked=True, ax=ax, width=0.8, colormap="tab10")
    ax.set(xlabel="seconds (two chapters at a time)", ylabel="")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def suite_time_plot(modules: pd.Series, ax=None):
    """The seconds of the slowest test modules (:func:`pprlib.bench.suite_time`), the slowest on top."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    modules.iloc[::-1].rename(lambda m: m.removeprefix("tests/")).plot.barh(ax=ax, width=0.8, color="tab:blue")
    ax.set(xlabel="seconds in the module's tests (both processes together)", ylabel="")
    return ax
