"""Where the implementation follows the paper closely enough to decide the book's verdicts: the
behaviour-based view, weight decay, the pre-training loss, zero-shot batches, the paper's
learning rates, CL4SRec's loss, simulated cold users' negatives and the k-shot reading."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pprlib import augment, losses
from pprlib.data.batching import loader
from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.experiments import (
    METHODS,
    PAPER_LR,
    BookConfig,
    Context,
    TuneSettings,
    _instances,
    paper_lr,
    pretrain_config,
    tuning_set,
)
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import ContrastiveConfig, PPRConfig, PPRModel, SequenceCLConfig
from pprlib.train import TrainConfig, make_optimizer

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
N_ITEMS = 40
MASK = N_ITEMS + 1
FIELDS = [3, 9, 6]


def windows(b, w, seed=0, min_len=1):
    """Right-padded windows (B, W) of random clicks with random lengths in min_len..W."""
    g = torch.Generator().manual_seed(seed)
    items = torch.randint(1, N_ITEMS + 1, (b, w), generator=g)
    lengths = torch.randint(min_len, w + 1, (b,), generator=g)
    return items.masked_fill(torch.arange(w)[None, :] >= lengths[:, None], 0), lengths


def every_anchor(items, lengths, zero=True):
    """(rows, cols) of every target position of the windows (column 0 only when ``zero``)."""
    cols = torch.arange(items.shape[1])[None, :]
    mask = (cols < lengths[:, None]) & ((cols > 0) | zero)
    return mask, *mask.nonzero(as_tuple=True)


def model(prompt="personalized", seed=0):
    torch.manual_seed(seed)
    bb = BackboneConfig(d=16, ffn=16, max_len=30)
    return PPRModel(N_ITEMS, FIELDS, bb, PPRConfig(prompt=prompt)).eval()


def profiles(b, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, s, (b,), generator=g) for s in FIELDS], dim=1)


# --------------------------------------------------------------------------------------------
# 1. the behaviour-based view


def test_behaviour_view_differs_from_its_anchor_and_never_holds_the_target():
    items, lengths = windows(64, 10)
    _, rows, cols = every_anchor(items, lengths)
    views, view_len = augment.behaviour_views(items, rows, cols, 0.2, MASK, torch.Generator().manual_seed(0))
    with_input = cols > 0
    r, c = rows[with_input], cols[with_input]
    assert torch.equal(view_len, c)  # the anchor at column c reads exactly the c clicks before it
    identical = 0
    for k in range(len(c)):
        history = items[r[k], : c[k]]
        view = views[k, : c[k]]
        assert (views[k, c[k]:] == 0).all()  # nothing after the history: the target is no input
        kept = view != MASK
        assert torch.equal(view[kept], history[kept])  # unmasked clicks are the anchor's own
        assert int((~kept).sum()) == max(1, round(0.2 * int(c[k])))
        identical += int(torch.equal(view, history))
    assert (c >= 2).sum() > 100
    assert identical == 0  # no positive pair is the anchor itself


def test_behaviour_view_masks_each_anchor_independently():
    items, lengths = windows(32, 10, min_len=10)  # every row ten clicks: anchors at columns 1..9
    _, rows, cols = every_anchor(items, lengths, zero=False)
    views, _ = augment.behaviour_views(items, rows, cols, 0.2, MASK, torch.Generator().manual_seed(1))
    masked = views == MASK
    disagree = 0
    for row in range(len(items)):
        mine = masked[rows == row]  # anchors of one window, columns 1..9
        prefix = mine[:, :1]  # the first click is in every anchor's history
        disagree += int((prefix != prefix[0]).any())
    # one mask per window would make every anchor of a row agree on the clicks they share
    assert disagree > len(items) // 2


def test_behaviour_view_reads_the_anchor_history_through_the_model():
    m = model()
    items, lengths = windows(6, 8, seed=3)
    profile = profiles(6)
    x_u = m.profile_vector(profile)
    mask, rows, cols = every_anchor(items, lengths)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        anchors = m.sequence_states(items, x_u)[mask]
        view, has_input = m.behaviour_view(items, rows, cols, x_u, 0.2, g)
        hist, h_len = augment.behaviour_views(items, rows, cols, 0.2, MASK, torch.Generator().manual_seed(0))
        direct = m.user_state(hist, h_len, x_u[rows[has_input]])
    torch.testing.assert_close(view, direct)
    assert torch.equal(has_input, cols > 0)
    # and the anchors themselves are u_s of the unmasked history, as the view's are of the masked one
    r, c = rows[has_input], cols[has_input]
    width = int(c.max())
    plain = items[r, :width].masked_fill(torch.arange(width)[None, :] >= c[:, None], 0)
    with torch.no_grad():
        torch.testing.assert_close(anchors[has_input], m.user_state(plain, c, x_u[r]), rtol=1e-5, atol=1e-5)


def zero_shot_batch(b, seed=0):
    items, lengths = windows(b, 4, seed=seed)
    return {"items": items, "lengths": lengths, "profile": profiles(b, seed), "user": torch.arange(b),
            "first": torch.ones(b, dtype=torch.bool), "negatives": torch.randint(1, N_ITEMS + 1, items.shape)}


def test_the_model_never_contrasts_an_anchor_with_itself():
    """Two-click windows: one few-shot anchor each, with a one-click history. A mask of
    round(0.2 * window) clicks leaves that history whole (the positive is the anchor itself);
    the behaviour view masks the click."""
    m = model().train()
    items, lengths = windows(12, 2, seed=4, min_len=2)
    batch = {"items": items, "lengths": lengths, "profile": profiles(12), "user": torch.arange(12),
             "first": torch.zeros(12, dtype=torch.bool), "negatives": torch.randint(1, N_ITEMS + 1, items.shape)}
    cl = ContrastiveConfig(prompt_view=False, behaviour_view=True)
    with torch.no_grad():
        _, parts = m.calculate_loss(batch, "few", cl, torch.Generator().manual_seed(0))
        anchor = m.sequence_states(items, m.profile_vector(batch["profile"]))[:, 1]
        itself = losses.info_nce(anchor, anchor, cl.temperature, batch["user"]).item()
    assert parts["cl"] != pytest.approx(itself, rel=1e-4)


def test_no_behaviour_view_in_zero_shot():
    m = model().train()
    batch = zero_shot_batch(16)
    cl = ContrastiveConfig(prompt_view=False, behaviour_view=True)
    _, parts = m.calculate_loss(batch, "zero", cl, torch.Generator().manual_seed(0))
    assert parts.get("cl", 0.0) == 0.0  # the prompt alone has no click to mask
    _, parts = m.calculate_loss(batch, "few", cl, torch.Generator().manual_seed(0))
    assert parts["cl"] > 0  # few-shot anchors do get one


# --------------------------------------------------------------------------------------------
# 2. weight decay


def test_an_embedding_row_without_gradient_keeps_its_value():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(20, 8)
    before = emb.weight.detach().clone()
    optimizer = make_optimizer(list(emb.parameters()), TrainConfig(lr=1e-3))  # the book's weight decay
    used = torch.tensor([1, 2, 3])
    for _ in range(500):
        loss = emb(used).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    idle = [i for i in range(20) if i not in used]
    torch.testing.assert_close(emb.weight[idle].detach(), before[idle], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(emb.weight[used], before[used])  # the rows with gradient did move


def test_train_config_rejects_an_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="sgd")


# --------------------------------------------------------------------------------------------
# 3. the pre-training loss, a profile parameter


def test_pretrain_loss_is_a_profile_parameter():
    for path in sorted((ROOT / "book" / "profiles").glob("*.yaml")):
        params = yaml.safe_load(path.read_text())
        assert params["pretrain_loss"] == ("bpr" if path.stem == "paper" else "ce"), path.name
    assert pretrain_config(BookConfig(pretrain_loss="bpr")).loss == "bpr"
    with pytest.raises(ValueError, match="pretrain_loss"):
        BookConfig(pretrain_loss="hinge")


def parameters_cell(path):
    cells = json.loads(path.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))


def test_every_chapter_with_profile_keys_declares_and_uses_pretrain_loss():
    checked = 0
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        if "pretrain_epochs = " not in parameters_cell(path):
            continue
        assert 'pretrain_loss = "ce"' in parameters_cell(path), path.name
        text = path.read_text().replace("\\n", "\n")  # passed by name, or with every declared setting
        assert "pretrain_loss=pretrain_loss" in text or "chapter_params(globals())" in text, path.name
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------------------------
# 4. zero-shot batches


def test_zero_shot_batches_hold_256_instances_and_infonce_255_negatives(monkeypatch):
    settings = TuneSettings(train=TrainConfig(batch_size=64))
    assert settings.train_config("PPR(full)", "zero", 0).batch_size == 256
    assert settings.train_config("PPR(full)", "few", 0).batch_size == 64
    seen = []
    real = losses.info_nce
    monkeypatch.setattr(losses, "info_nce", lambda a, p, *rest: seen.append(len(a)) or real(a, p, *rest))
    m = model().train()
    batch = zero_shot_batch(settings.train_config("PPR(full)", "zero", 0).batch_size)
    m.calculate_loss(batch, "zero", ContrastiveConfig(), torch.Generator().manual_seed(0))
    assert seen == [256]  # the prompt-based view only; each anchor against 255 others


def test_zero_shot_tuning_gets_the_few_shot_budget_and_patience_in_optimizer_steps():
    """A zero-shot epoch (one first click per user, 256 users a batch) is a quarter of the steps
    of a few-shot one (64 users a batch): its epochs and patience are four times as many."""
    settings = TuneSettings(train=TrainConfig(batch_size=64, max_epochs=30, patience=3))
    few, zero = settings.train_config("ft", "few", 0), settings.train_config("ft", "zero", 0)
    assert (few.max_epochs, few.patience) == (30, 3)
    assert (zero.max_epochs, zero.patience) == (120, 12)
    assert zero.batch_size / few.batch_size == zero.max_epochs / few.max_epochs == zero.patience / few.patience
    joint = settings.train_config("ft", "all", 0)  # joint batches are the few-shot ones
    assert (joint.batch_size, joint.max_epochs, joint.patience) == (64, 30, 3)
    fixed = TuneSettings(train=TrainConfig(batch_size=64, max_epochs=30, patience=3), zero_shot_epochs_scale=1)
    assert (fixed.train_config("ft", "zero", 0).max_epochs, fixed.train_config("ft", "zero", 0).patience) == (30, 3)
    with pytest.raises(ValueError, match="zero_shot_epochs_scale"):
        TuneSettings(zero_shot_epochs_scale=0)


# --------------------------------------------------------------------------------------------
# 5. the paper's learning rates


def test_paper_learning_rates_cover_every_tuned_method():
    tuned = {name for name, m in METHODS.items() if m.mode is not None}
    assert set(PAPER_LR) == tuned
    for name in tuned:
        assert paper_lr(name) == (1e-5 if METHODS[name].mode in ("ft", "full") else 1e-4), name
    assert paper_lr("PPR(full) w/o prompt aug") == paper_lr("PPR(full) w/o behaviour aug") == 1e-5
    assert paper_lr("PPR(light) w/o behaviour aug") == 1e-4


# --------------------------------------------------------------------------------------------
# 6. CL4SRec's NT-Xent


def brute_nt_xent(v1, v2, tau, groups=None):
    z = torch.nn.functional.normalize(torch.cat([v1, v2]), dim=-1).double()
    n = len(v1)
    g = None if groups is None else torch.cat([groups, groups]).tolist()
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denominator = 0.0
        for k in range(2 * n):
            if k == i or (k != j and g is not None and g[k] == g[i]):
                continue
            denominator += math.exp(float(z[i] @ z[k]) / tau)
        total += -(float(z[i] @ z[j]) / tau - math.log(denominator))
    return total / (2 * n)


@pytest.mark.parametrize("groups", [None, [0, 1, 1, 2, 3, 3, 3]])
def test_nt_xent_has_2n_minus_2_negatives_and_both_views_as_anchors(groups):
    g = torch.Generator().manual_seed(0)
    v1, v2 = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    groups_t = None if groups is None else torch.tensor(groups)
    got = losses.nt_xent(v1, v2, 0.5, groups_t).item()
    assert got == pytest.approx(brute_nt_xent(v1, v2, 0.5, groups_t), rel=1e-5)
    assert got == pytest.approx(losses.nt_xent(v2, v1, 0.5, groups_t).item(), rel=1e-5)  # symmetric
    same = torch.ones(7, 5)
    assert losses.nt_xent(same, same).item() == pytest.approx(math.log(2 * 7 - 1), rel=1e-5)


def test_cl4srec_pretraining_uses_nt_xent(monkeypatch):
    calls = []
    real = losses.nt_xent
    monkeypatch.setattr(losses, "nt_xent", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    torch.manual_seed(0)
    m = PPRModel(N_ITEMS, FIELDS, BackboneConfig(d=16, ffn=16, max_len=30), PPRConfig(prompt="none", profile_model=False))
    batch = zero_shot_batch(8)
    batch["first"] = torch.zeros(8, dtype=torch.bool)
    _, parts = m.calculate_loss(batch, "few", seq_cl=SequenceCLConfig(), generator=torch.Generator().manual_seed(0))
    assert calls == [8] and parts["seq_cl"] > 0


# --------------------------------------------------------------------------------------------
# 7. simulated cold users: training negatives from the untruncated data


def test_simulated_cold_users_never_get_a_cut_off_click_as_negative():
    full = generate(SyntheticConfig(n_users=300, n_items=300, max_length=60, cold_share=0.05, seed=0))
    sp = split(full, ProtocolConfig(seed=0, simulate_cold_share=0.5))
    assert sp.clicked is full and sp.data.n_interactions < full.n_interactions
    train = tuning_set(Context(sp, None, BackboneConfig()), TuneSettings(), seed=0)
    clicked = {u: set(full.sequence(u).tolist()) for u in sp.tune_users}
    cut_off = sum(len(clicked[u]) - len(set(sp.data.sequence(u).tolist())) for u in sp.tune_users)
    assert cut_off > 1000  # the old sampler would have drawn many of these
    for _ in range(5):
        for batch in loader(train, 64, shuffle=True):
            for user, row, length in zip(batch["user"].tolist(), batch["negatives"], batch["lengths"].tolist(),
                                         strict=True):
                assert not set(row[:length].tolist()) & clicked[user]


def test_simulated_cold_users_are_evaluated_against_items_they_never_clicked():
    """The 99 negatives of every evaluated click of a simulated cold user: never an item of the
    user's whole (untruncated) sequence, though the truncated one no longer shows it."""
    full = generate(SyntheticConfig(n_users=300, n_items=300, max_length=60, cold_share=0.05, seed=0))
    sp = split(full, ProtocolConfig(seed=0, simulate_cold_share=0.5))
    cut_off = 0
    for name in ("val", "test"):
        inst = sp.instances(name)
        for user, candidates in zip(inst.users.tolist(), inst.candidates[:, 1:], strict=True):
            clicked = set(full.sequence(user).tolist())
            assert not set(candidates.tolist()) & clicked, (name, user)
            cut_off += len(clicked - set(sp.data.sequence(user).tolist()))
    assert cut_off > 500  # many clicks were cut off, so negatives drawn from the truncated data would hit some


# --------------------------------------------------------------------------------------------
# 8. k-shot: histories of at most k clicks


def test_k_shot_keeps_the_first_k_plus_one_clicks():
    data = generate(SyntheticConfig(n_users=400, n_items=300, max_length=40, seed=1))
    sp = split(data, ProtocolConfig(seed=0))
    for k in (1, 3):
        train = tuning_set(Context(sp, None, BackboneConfig()), TuneSettings(k_shot=k), seed=0)
        expected = np.minimum(data.lengths[sp.tune_users], k + 1)
        assert sorted(train.lengths.tolist()) == sorted(expected.tolist())
        for row, length, user in zip(train.items, train.lengths.tolist(), train.user.tolist(), strict=True):
            assert row[:length].tolist() == data.sequence(user)[:length].tolist()  # the first clicks
        test = _instances(sp, "test", "few", k)
        assert len(test) and test.positions.min() >= 1 and test.positions.max() <= k
        assert (test.positions == k).any()  # a history of exactly k clicks is a k-shot instance


def test_a_tuning_share_tunes_on_nested_subsets_of_the_cold_users():
    from pprlib.runs import tuning_users

    sp = split(generate(SyntheticConfig(n_users=400, n_items=300, max_length=40, seed=1)), ProtocolConfig(seed=0))
    n = len(sp.tune_users)
    quarter, half, whole = (tuning_users(sp, s) for s in (0.25, 0.5, 1.0))
    assert len(quarter) == int(np.ceil(0.25 * n)) and len(half) == int(np.ceil(0.5 * n))
    assert set(quarter) <= set(half) <= set(whole) and set(whole) == set(sp.tune_users)
    assert not np.array_equal(quarter, np.sort(sp.tune_users)[: len(quarter)])  # a shuffle, not the first ids
    train = tuning_set(Context(sp, None, BackboneConfig()), TuneSettings(tune_share=0.5), seed=0)
    assert sorted(train.user.tolist()) == sorted(half.tolist())
    with pytest.raises(ValueError, match="tune_share"):
        TuneSettings(tune_share=0.0)
