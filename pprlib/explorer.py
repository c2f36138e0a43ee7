"""The interactive explorer: what each model recommends to one user, and what moves it.

* :func:`recommend`: the top-k items of one model for any user, a new one included (labels in,
  labels out); :func:`scores` is the same for a batch of users;
* :func:`top_k_table`: the top-k items of several models side by side, and where the
  pre-trained model without a prompt ranks each item of a prompted model;
* :func:`noisy_profile`: a profile with each field replaced by a random value at rate r;
* :func:`explorer`: the same as a live widget (profile fields, a short history, k, noise);
* :func:`grid_frame`: the widget's choices over a grid of cold test users, as a tidy frame
  (drawn by :func:`pprlib.plots.explorer_plot`), so the page is complete without a kernel.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import torch

from pprlib.augment import noisy_profiles
from pprlib.data.protocol import ColdStartSplit
from pprlib.data.schema import InteractionData
from pprlib.models.ppr import PPRModel

MAX_HISTORY = 9
"""Longest history the widget accepts: cold users have fewer than 10 clicks."""


def _check(models: dict, k: int, rate: float = 0.0) -> None:
    if not models:
        raise ValueError("models must name at least one model, e.g. {'PPR(light)': model}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"the profile noise rate must lie in [0, 1], got {rate!r}")


def _prompted(model: PPRModel) -> bool:
    return model.prompt is not None


def top_k_table(models: dict[str, PPRModel], data: InteractionData, profile: dict[str, str], history: list[str],
                k: int = 10, reference: PPRModel | None = None) -> pd.DataFrame:
    """One row per rank (1..k), one column of item labels per model. With a ``reference``
    (the pre-trained model without a prompt), each prompted model also gets a column
    ``"<name> (rank without prompt)"``: the rank its item has under the reference, which shows
    how far the prompt moved it (empty when the history is: without clicks and without a
    prompt the reference scores every item alike). Items in ``history`` are never recommended."""
    _check(models, k)
    columns = {}
    ranks = None
    if reference is not None and any(_prompted(m) for m in models.values()):
        full = recommend(reference, data, profile, history, k=data.n_items)
        finite = full.score[np.isfinite(full.score)]
        ranks = {item: r for r, item in enumerate(full.item, start=1)}
        if finite.max() == finite.min():  # no clicks, no prompt: every item ties, ranks say nothing
            ranks = dict.fromkeys(full.item, pd.NA)
    for name, model in models.items():
        items = recommend(model, data, profile, history, k).item.tolist()
        columns[name] = items
        if ranks is not None and _prompted(model):
            columns[f"{name} (rank without prompt)"] = [ranks[i] for i in items]
    return pd.DataFrame(columns, index=pd.RangeIndex(1, len(items) + 1, name="rank"))


def noisy_profile(data: InteractionData, profile: dict[str, str], rate: float, seed: int) -> dict[str, str]:
    """``profile`` (labels by field; absent fields are missing) with each field replaced, with
    probability ``rate``, by a uniformly random valid value: the noise of the book's noise
    study, for one user. Returns labels for every field. The draws depend on ``seed`` only, so
    the fields changed at a rate are also changed at any higher rate."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"the profile noise rate must lie in [0, 1], got {rate!r}")
    codes = torch.from_numpy(data.encode_profile(profile))[None, :]
    noisy = noisy_profiles(codes, data.field_sizes, rate, torch.Generator().manual_seed(seed))[0]
    return {f: data.vocab[f][int(c)] for f, c in zip(data.profile_fields, noisy, strict=True)}


def _overlap(a, b) -> float:
    """Share of the items of list ``a`` that are also in ``b``."""
    return len(set(a) & set(b)) / max(len(a), 1)


def _html_output(text: str) -> dict:
    return {"output_type": "display_data", "data": {"text/html": text, "text/plain": text}, "metadata": {}}


def explorer(models: dict[str, PPRModel], data: InteractionData, reference: PPRModel | None = None, k: int = 10,
             seed: int = 0, profile: dict[str, str] | None = None, history=()):
    """A widget: one dropdown per profile field, a history picker (at most 9 items), a slider
    for k and one for the profile-noise rate; below them the top-k table of
    :func:`top_k_table` for the profile actually used (the noisy one), which fields the noise
    changed, and the share of each model's clean top-k that survives the noise. It updates
    on every change (with a live kernel). ``profile`` and ``history`` are the starting
    values. The controls are in ``widget.controls`` (``fields``, ``history``, ``k``,
    ``noise``, ``output``)."""
    import ipywidgets as w

    _check(models, k)
    profile = {f: data.vocab[f][c]
               for f, c in zip(data.profile_fields, data.encode_profile(profile or {}), strict=True)}
    items = [str(i) for i in data.item_ids[1:]]
    known = set(items)
    unknown = [h for h in history if h not in known]
    if unknown:
        raise ValueError(f"unknown item(s) in history: {unknown[:5]}")
    if len(history) > MAX_HISTORY:
        raise ValueError(f"history holds {len(history)} items; the explorer takes at most {MAX_HISTORY}")
    style = {"description_width": "initial"}
    fields = {f: w.Dropdown(options=data.vocab[f], value=profile[f], description=f, style=style)
              for f in data.profile_fields}
    picker = w.TagsInput(value=list(history), allowed_tags=items, allow_duplicates=False,
                         placeholder=f"add up to {MAX_HISTORY} items, in click order")
    k_slider = w.IntSlider(value=k, min=1, max=max(k, 30), description="k", style=style)
    noise = w.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.05, description="profile noise rate", style=style)
    out = w.Output()

    def refresh(_=None):
        if len(picker.value) > MAX_HISTORY:  # setting the value calls refresh again
            picker.value = list(picker.value)[:MAX_HISTORY]
            return
        clean = {f: d.value for f, d in fields.items()}
        used = noisy_profile(data, clean, noise.value, seed)
        changed = [f"{f}: {html.escape(clean[f])} → <b>{html.escape(used[f])}</b>"
                   for f in clean if used[f] != clean[f]]
        table = top_k_table(models, data, used, list(picker.value), k_slider.value, reference)
        note = "the one chosen above" + (" (the noise changed no field)" if noise.value > 0 else "")
        parts = [f"<p>Profile used: {'; '.join(changed) if changed else note}</p>"]
        if changed:
            base = top_k_table(models, data, clean, list(picker.value), k_slider.value)
            kept = [f"{html.escape(n)} {_overlap(base[n], table[n]):.0%}" for n in models]
            parts.append(f"<p>Share of the clean top-{k_slider.value} that survives the noise: {', '.join(kept)}</p>")
        parts.append(table.to_html())
        out.outputs = (_html_output("\n".join(parts)),)

    for control in (*fields.values(), picker, k_slider, noise):
        control.observe(refresh, names="value")
    refresh()
    box = w.VBox([w.HBox(list(fields.values())), w.HTML("history (item labels):"), picker,
                  w.HBox([k_slider, noise]), out])
    box.controls = {"fields": fields, "history": picker, "k": k_slider, "noise": noise, "output": out}
    _add_static_view(box, data.profile_fields, out)
    return box


def _add_static_view(box, profile_fields, out) -> None:
    """Give the widget an HTML view for pages without a kernel (the built book): what the
    controls are, how to use them live, and the table they showed at execution time. Live
    frontends still show the widget (they prefer its own mime type)."""
    widget_bundle = box._repr_mimebundle_

    def bundle(**kwargs):
        data = widget_bundle(**kwargs)
        shown = "".join(o.get("data", {}).get("text/html", "") for o in out.outputs)
        data["text/html"] = (
            '<div class="pprlib-explorer-static"><p><b>Live explorer</b> (needs a running kernel: open '
            "<code>book/explorer.ipynb</code> in Jupyter, e.g. <code>make lab</code>). Its controls: a dropdown "
            f"for each profile field ({html.escape(', '.join(profile_fields))}), a picker for up to {MAX_HISTORY} "
            "clicked items, a slider for k and one for the profile-noise rate. What it showed when the book was "
            f"executed:</p>{shown}</div>")
        return data

    box._repr_mimebundle_ = bundle


def scores(model: PPRModel, history: np.ndarray, profiles: np.ndarray, exclude_seen: bool = True) -> torch.Tensor:
    """Scores (B, n_items + 1) for a batch of users with equal-length histories (item codes,
    (B, h), ``h`` >= 0) and profile codes (B, fields); padding gets -inf, and so do the
    history's items with ``exclude_seen``."""
    device = next(model.parameters()).device
    b, h = history.shape
    items = torch.from_numpy(history).to(device) if h else torch.zeros(b, 1, dtype=torch.long, device=device)
    batch = {"history": items, "lengths": torch.full((b,), h, device=device),
             "profile": torch.from_numpy(profiles).to(device)}
    model.eval()
    with torch.no_grad():
        out = model.full_sort_predict(batch)[:, : model.n_items + 1].float().cpu()
    out[:, 0] = -torch.inf
    if h and exclude_seen:
        out.scatter_(1, items.cpu(), -torch.inf)
    return out


def recommend(model: PPRModel, data: InteractionData, profile: dict | np.ndarray, history=(), k: int = 10,
              exclude_seen: bool = True) -> pd.DataFrame:
    """Top-``k`` items for any user, a brand-new one with an empty history included.

    ``profile``: labels by field (``{"gender": "F", "age": "25-29"}``; absent fields are
    missing) or codes; ``history``: item labels in time order (the model reads the last
    ``max_len``; ``exclude_seen`` rules out all of them).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    codes = data.encode_profile(profile) if isinstance(profile, dict) else _profile_codes(data, profile)
    lookup = {label: i for i, label in enumerate(data.item_ids) if i > 0}
    unknown = [h for h in history if h not in lookup]
    if unknown:
        raise ValueError(f"unknown item(s) in history: {unknown[:5]}")
    seen = [lookup[h] for h in history]
    window = np.array([seen[-model.backbone_cfg.max_len:]], dtype=np.int64)
    row = scores(model, window, codes[None, :], exclude_seen=False)[0]
    if exclude_seen and seen:
        row[seen] = -np.inf  # the whole history, not only the model's window
    top = torch.topk(row, min(k, data.n_items)).indices.numpy()
    return pd.DataFrame({"item": data.item_ids[top], "score": row[top].numpy()})


def _profile_codes(data: InteractionData, profile) -> np.ndarray:
    """Profile codes given as numbers, checked against the fields' vocabularies."""
    codes = np.asarray(profile)
    sizes = data.field_sizes
    if codes.shape != (len(sizes),) or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"profile codes must be {len(sizes)} integers, one per field {data.profile_fields}, "
                         f"got {profile!r}; or give labels, e.g. {data.profile_labels(0)}")
    for f, code, size in zip(data.profile_fields, codes.tolist(), sizes, strict=True):
        if not 0 <= code < size:
            raise ValueError(f"profile field {f!r}: code {code} is outside 0..{size - 1} (0 = missing; "
                             f"the labels are {data.vocab[f]})")
    return codes.astype(np.int64)


def _top_k(scores: torch.Tensor, k: int) -> np.ndarray:
    return scores.topk(min(k, scores.shape[1] - 1), dim=1).indices.numpy()


def _has_preference(scores: torch.Tensor) -> torch.Tensor:
    """Rows whose candidate items do not all score alike (a model without a prompt scores
    every item 0 for a user without clicks: its "top-k" is then arbitrary)."""
    low = torch.where(torch.isfinite(scores), scores, torch.inf).min(1).values
    return scores.max(1).values > low


def _overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the share of the items of ``a`` (B, k) that are also in ``b`` (B, k)."""
    return (a[:, :, None] == b[:, None, :]).any(-1).mean(1)


def grid_frame(models: dict[str, PPRModel], split: ColdStartSplit, reference: PPRModel | None = None, k: int = 10,
               noise_rates=(0.0, 0.25, 0.5), history_lengths=(0, 1, 3), n_users: int = 200,
               seed: int = 0) -> pd.DataFrame:
    """The explorer's choices over a grid, as a tidy frame (model, history, noise, metric,
    value, users).

    A seeded sample of at most ``n_users`` cold test users with at least
    ``max(history_lengths)`` clicks (the same users at every history length) gets, for each
    history length h, its first h clicks as history. Metrics, averaged over the users:
    ``stability``: the share of the top-k for the clean profile still in the top-k for the
    profile with noise at rate r; ``overlap with no prompt``: the share of the top-k (noisy
    profile) also in the ``reference``'s top-k, over the users for whom the reference has a
    preference (none when h = 0: without clicks and without a prompt it scores every item
    alike, so that row is absent). The noise draws are shared by every model and history
    length. A model that is ``reference`` itself is left out.
    """
    _check(models, k)
    for r in noise_rates:
        _check(models, k, r)
    data = split.data
    need = max(history_lengths, default=0)
    pool = split.test_users[data.lengths[split.test_users] >= need]
    if len(pool) == 0:
        raise ValueError(f"no cold test user has {need} clicks; choose shorter history_lengths")
    users = np.sort(np.random.default_rng(seed).choice(pool, size=min(n_users, len(pool)), replace=False))
    clean = torch.from_numpy(data.profiles[users])
    profiles = {r: noisy_profiles(clean, data.field_sizes, float(r), torch.Generator().manual_seed(seed)).numpy()
                for r in noise_rates}
    rows = []
    for h in history_lengths:
        history = np.stack([data.sequence(u)[:h] for u in users]).astype(np.int64)
        base, informative = None, np.zeros(len(users), dtype=bool)
        if reference is not None:
            ref_scores = scores(reference, history, clean.numpy())
            base, informative = _top_k(ref_scores, k), _has_preference(ref_scores).numpy()
        for name, model in models.items():
            if model is reference:
                continue
            top_clean = _top_k(scores(model, history, clean.numpy()), k)
            for r in noise_rates:
                top = _top_k(scores(model, history, profiles[r]), k)
                values = {"stability": _overlaps(top_clean, top).mean()}
                if informative.any():
                    values["overlap with no prompt"] = _overlaps(top[informative], base[informative]).mean()
                rows += [{"model": name, "history": int(h), "noise": float(r), "metric": m, "value": float(v),
                          "users": len(users)} for m, v in values.items()]
    return pd.DataFrame(rows)


def grid_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A short table of :func:`grid_frame`: per model (rows) and clicks of history (columns),
    the share of the top-k kept at the highest noise rate and the overlap with the model
    without a prompt at the lowest rate (normally the clean profile)."""
    high, low = frame.noise.max(), frame.noise.min()
    parts = {f"kept at noise r = {high:g}": frame[(frame.metric == "stability") & (frame.noise == high)],
             "overlap with no prompt": frame[(frame.metric == "overlap with no prompt") & (frame.noise == low)]}
    order = list(dict.fromkeys(frame.model))
    table = pd.concat({name: part.pivot(index="model", columns="history", values="value").reindex(order)
                       for name, part in parts.items() if len(part)}, axis=1)
    table.columns.names = ["", "clicks of history"]
    return table


def grid_summary(frame: pd.DataFrame, clicks: int | None = None) -> dict:
    """The numbers a reader quotes from :func:`grid_frame`, at the highest noise rate and
    after ``clicks`` clicks (default: the longest history): ``kept_zero`` / ``kept`` (model ->
    share of the clean top-k kept without clicks / after ``clicks``), ``overlap`` (model ->
    overlap with no prompt after ``clicks``, clean profile), ``most_stable_zero`` and
    ``least_overlap`` (model names), ``history_effect`` ("more", "less" or "as much": do lists
    keep more under noise after ``clicks`` than without?), ``users`` and ``high_noise``."""
    clicks = int(frame.history.max()) if clicks is None else clicks
    high = float(frame.noise.max())
    kept = frame[(frame.metric == "stability") & (frame.noise == high)].set_index(["history", "model"]).value
    overlap = frame[(frame.metric == "overlap with no prompt") & (frame.noise == frame.noise.min())]
    overlap = overlap.set_index(["history", "model"]).value
    if 0 not in kept.index.get_level_values("history") or clicks not in overlap.index.get_level_values("history"):
        raise ValueError(f"the frame needs history lengths 0 and {clicks} (with a reference model)")
    zero, after = kept.loc[0], kept.loc[clicks]
    effect = "more" if after.mean() > zero.mean() else "less" if after.mean() < zero.mean() else "as much"
    return {"kept_zero": zero.to_dict(), "kept": after.to_dict(), "overlap": overlap.loc[clicks].to_dict(),
            "most_stable_zero": zero.idxmax(), "least_overlap": overlap.loc[clicks].idxmin(),
            "history_effect": effect, "users": int(frame.users.iloc[0]), "high_noise": high}
