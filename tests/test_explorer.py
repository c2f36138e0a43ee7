"""The explorer: top-k tables, profile noise for one user, the widget and the grid frame."""

from __future__ import annotations

import numpy as np
import pytest

from pprlib import experiments as ex
from pprlib.explorer import MAX_HISTORY, explorer, grid_frame, noisy_profile, top_k_table


@pytest.fixture(scope="module")
def setup(medium_ctx, module_cache):
    ctx = medium_ctx
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPR_CACHE_DIR", str(module_cache))
        models = {name: ex.tuned_model(ctx, name, ctx.settings(), "few", 0)
                  for name in ("pre-train", "ft", "PPR(light)")}
    data = ctx.split.data
    user = int(ctx.split.test_users[np.argmax(data.lengths[ctx.split.test_users] >= 3)])
    history = [data.item_ids[i] for i in data.sequence(user)[:3]]
    return ctx, models, data, data.profile_labels(user), history


def test_top_k_table_puts_models_side_by_side(setup):
    _, models, data, profile, history = setup
    table = top_k_table(models, data, profile, history, k=7, reference=models["pre-train"])
    assert list(table.columns) == ["pre-train", "ft", "PPR(light)", "PPR(light) (rank without prompt)"]
    assert list(table.index) == list(range(1, 8)) and table.index.name == "rank"
    for name, model in models.items():
        assert table[name].tolist() == ex.recommend(model, data, profile, history, 7).item.tolist()
        assert not set(history) & set(table[name])
    # the rank column is the rank of the PPR item in the reference's full ranking
    full = ex.recommend(models["pre-train"], data, profile, history, k=data.n_items).item.tolist()
    for item, rank in zip(table["PPR(light)"], table["PPR(light) (rank without prompt)"], strict=True):
        assert full[rank - 1] == item


def test_top_k_table_without_clicks_has_no_reference_ranks(setup):
    _, models, data, profile, _ = setup
    table = top_k_table(models, data, profile, [], k=5, reference=models["pre-train"])
    assert table["PPR(light) (rank without prompt)"].isna().all()  # the reference scores every item alike
    assert "PPR(light) (rank without prompt)" not in top_k_table(models, data, profile, [], k=5)


def test_noise_rate_zero_keeps_the_profile_and_rate_one_redraws_every_field(setup):
    _, _, data, profile, _ = setup
    before = dict(profile)
    assert all(noisy_profile(data, profile, 0.0, seed) == profile for seed in range(20))
    assert profile == before  # the input is not modified
    partial = noisy_profile(data, {"gender": "F"}, 0.0, 0)
    assert partial == {f: ("F" if f == "gender" else data.vocab[f][0]) for f in data.profile_fields}
    # at rate 1 each field gets a uniform valid value: it stays only by chance, 1 / (size - 1)
    changed = np.mean([[noisy_profile(data, profile, 1.0, s)[f] != profile[f] for f in data.profile_fields]
                       for s in range(400)], axis=0)
    expected = [1 - 1 / (len(data.vocab[f]) - 1) if profile[f] != data.vocab[f][0] else 1.0
                for f in data.profile_fields]
    assert changed == pytest.approx(expected, abs=0.06)
    # the same seed at a higher rate changes the same fields and more
    for seed in range(20):
        low, high = noisy_profile(data, profile, 0.2, seed), noisy_profile(data, profile, 0.5, seed)
        assert {f for f in profile if low[f] != profile[f]} <= {f for f in profile if high[f] != profile[f]}


def test_bad_inputs_are_clear_errors(setup):
    ctx, models, data, profile, history = setup
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['colour'\]"):
        top_k_table(models, data, {"colour": "red"}, history)
    with pytest.raises(ValueError, match=r"field 'gender': value 'X' is not in its vocabulary \['F', 'M'\]"):
        noisy_profile(data, {"gender": "X"}, 0.1, 0)
    with pytest.raises(ValueError, match=r"unknown item\(s\) in history: \['no-such-item'\]"):
        top_k_table(models, data, profile, ["no-such-item"])
    with pytest.raises(ValueError, match=r"unknown item\(s\) in history: \['no-such-item'\]"):
        explorer(models, data, history=["no-such-item"])
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        top_k_table(models, data, profile, history, k=0)
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        grid_frame(models, ctx.split, k=0)
    with pytest.raises(ValueError, match=r"noise rate must lie in \[0, 1\], got 1.5"):
        noisy_profile(data, profile, 1.5, 0)
    with pytest.raises(ValueError, match=r"noise rate must lie in \[0, 1\], got -0.1"):
        grid_frame(models, ctx.split, noise_rates=(0.0, -0.1))
    with pytest.raises(ValueError, match="at least one model"):
        top_k_table({}, data, profile, history)


def _shown(widget) -> str:
    (output,) = widget.controls["output"].outputs
    return output["data"]["text/html"]


def test_widget_updates_when_a_control_changes(setup):
    _, models, data, profile, history = setup
    reference = models["pre-train"]
    widget = explorer(models, data, reference, k=5, profile=profile, history=history)
    c = widget.controls
    assert set(c["fields"]) == set(data.profile_fields)
    assert c["fields"]["age"].options == tuple(data.vocab["age"])  # the missing label included
    assert top_k_table(models, data, profile, history, 5, reference).to_html() in _shown(widget)

    c["k"].value = 3
    assert top_k_table(models, data, profile, history, 3, reference).to_html() in _shown(widget)

    c["history"].value = []  # zero-shot: the profile is all the models know
    assert top_k_table(models, data, profile, [], 3, reference).to_html() in _shown(widget)

    # a field value whose recommendations differ, so that a stale output would be caught
    before = top_k_table(models, data, profile, [], 3, reference)
    field, new = next((f, v) for f in data.profile_fields for v in data.vocab[f] if v != profile[f]
                      and not top_k_table(models, data, {**profile, f: v}, [], 3, reference).equals(before))
    c["fields"][field].value = new
    changed = {**profile, field: new}
    assert top_k_table(models, data, changed, [], 3, reference).to_html() in _shown(widget)

    c["noise"].value = 0.5
    used = noisy_profile(data, changed, 0.5, 0)
    shown = _shown(widget)
    assert top_k_table(models, data, used, [], 3, reference).to_html() in shown
    if used != changed:
        assert "survives the noise" in shown
        assert all(f"{f}: " in shown for f in data.profile_fields if used[f] != changed[f])

    c["history"].value = [str(i) for i in data.item_ids[1 : MAX_HISTORY + 3]]
    assert len(c["history"].value) == MAX_HISTORY  # cold users have fewer than 10 clicks


def test_grid_frame_is_tidy_and_consistent_with_recommend(setup):
    ctx, models, data, _, _ = setup
    reference = models["pre-train"]
    frame = grid_frame(models, ctx.split, reference, k=5, noise_rates=(0.0, 0.5), history_lengths=(0, 2), n_users=30)
    assert list(frame.columns) == ["model", "history", "noise", "metric", "value", "users"]
    assert set(frame.model) == {"ft", "PPR(light)"}  # the reference itself is left out
    assert frame.value.between(0, 1).all()
    assert (frame.users == 30).all()
    stability = frame[frame.metric == "stability"].set_index(["model", "history", "noise"]).value
    assert (stability.xs(0.0, level="noise") == 1.0).all()
    assert stability.xs(0.5, level="noise").min() < 1.0  # noise on every field of 30 users moves something
    overlap = frame[frame.metric == "overlap with no prompt"]
    assert set(overlap.history) == {2}  # without clicks the reference has no preference

    # on every eligible test user, the grid agrees with recommend() one user at a time
    users = ctx.split.test_users[data.lengths[ctx.split.test_users] >= 1]
    full = grid_frame(models, ctx.split, reference, k=5, noise_rates=(0.0,), history_lengths=(1,), n_users=10_000)
    got = full[full.metric == "overlap with no prompt"].set_index("model").value
    for name in ("ft", "PPR(light)"):
        shares = []
        for u in users:
            history = [data.item_ids[i] for i in data.sequence(u)[:1]]
            a = ex.recommend(models[name], data, data.profile_labels(u), history, 5).item
            b = ex.recommend(reference, data, data.profile_labels(u), history, 5).item
            shares.append(len(set(a) & set(b)) / 5)
        assert got[name] == pytest.approx(np.mean(shares), abs=0.02)


def test_explorer_plot_draws_both_panels(setup):
    import matplotlib.pyplot as plt

    from pprlib.plots import explorer_plot

    ctx, models, _, _, _ = setup
    frame = grid_frame(models, ctx.split, models["pre-train"], k=5, history_lengths=(0, 1), n_users=20)
    fig = explorer_plot(frame)
    left, right = fig.axes
    for ax in (left, right):
        labels = {t.get_text() for t in ax.get_legend().get_texts()}
        assert {"ft", "PPR(light)"} <= labels and len(ax.lines) >= 2
    assert {"0 clicks", "1 click"} <= {t.get_text() for t in left.get_legend().get_texts()}
    assert [t.get_text() for t in right.get_xticklabels()] == ["1"]  # no reference overlap without clicks
    plt.close(fig)


def test_grid_summary_quotes_the_frame(setup):
    from pprlib.explorer import grid_summary

    ctx, models, _, _, _ = setup
    frame = grid_frame(models, ctx.split, models["pre-train"], k=5, noise_rates=(0.0, 0.5), history_lengths=(0, 2),
                       n_users=20)
    s = grid_summary(frame)
    row = frame.set_index(["model", "history", "noise", "metric"]).value
    for name in ("ft", "PPR(light)"):
        assert s["kept_zero"][name] == row[(name, 0, 0.5, "stability")]
        assert s["kept"][name] == row[(name, 2, 0.5, "stability")]
        assert s["overlap"][name] == row[(name, 2, 0.0, "overlap with no prompt")]
    assert s["most_stable_zero"] == max(s["kept_zero"], key=s["kept_zero"].get)
    assert s["least_overlap"] == min(s["overlap"], key=s["overlap"].get)
    assert (s["users"], s["high_noise"]) == (20, 0.5)
    with pytest.raises(ValueError, match="needs history lengths 0 and 2"):
        grid_summary(frame[frame.history != 0])
