"""PPRModel.calculate_loss against a loop-based reference on a tiny hand-built batch.

The reference recomputes every target position one at a time, through another code path
(``user_representation`` on the clicks before the position, the way evaluation reads a user):
BPR with the batch's negatives and the softmax cross-entropy over all items, for few-shot,
zero-shot and all targets. A loss that reads the wrong item (CE shifted by one), a target
mask that drops the zero-shot positions, or representations taken one click late all fail.
"""

from __future__ import annotations

import math

import pytest
import torch

from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import PPRConfig, PPRModel

N_ITEMS = 30
FIELDS = [3, 5, 4]

# name -> PPRConfig: the pre-training model, the fine-tuning baseline, PPR and a shared prompt
MODELS = {
    "pretrain": PPRConfig(prompt="none", profile_model=False),
    "ft": PPRConfig(prompt="none"),
    "ppr": PPRConfig(n_prompt=2),
    "shared": PPRConfig(prompt="shared"),
    "profile only": PPRConfig(prompt="none", use_sequence=False),
}


def model_for(name: str, backbone: str = "sasrec") -> PPRModel:
    torch.manual_seed(0)
    bb = BackboneConfig(name=backbone, d=8, ffn=8, max_len=10)
    return PPRModel(N_ITEMS, FIELDS, bb, MODELS[name]).eval()


def hand_batch() -> dict:
    """Four windows of width 5: lengths 5, 3, 1 and 4; rows 0, 2 and 3 start at the user's
    first click (their position 0 is a zero-shot target), row 1 does not."""
    items = torch.tensor([[3, 7, 1, 9, 4],
                          [12, 5, 30, 0, 0],
                          [8, 0, 0, 0, 0],
                          [2, 2, 17, 6, 0]])
    negatives = torch.tensor([[11, 13, 14, 15, 16],
                              [1, 2, 3, 0, 0],
                              [29, 0, 0, 0, 0],
                              [21, 22, 23, 24, 0]])
    return {"items": items, "lengths": torch.tensor([5, 3, 1, 4]), "first": torch.tensor([True, False, True, True]),
            "profile": torch.tensor([[1, 2, 3], [0, 4, 1], [2, 0, 0], [1, 1, 2]]),
            "user": torch.tensor([0, 1, 2, 3]), "negatives": negatives}


def is_target(model: PPRModel, targets: str, j: int, first: bool) -> bool:
    """The training targets, written out: few-shot = after at least one click; zero-shot =
    position 0 of a window that starts at the first click (only models with a profile side)."""
    has_profile_side = model.prompt is not None or model.profile_model is not None
    if targets == "few" or not has_profile_side:
        return j > 0
    if targets == "zero":
        return j == 0 and first
    return j > 0 or first


@torch.no_grad()
def reference_loss(model: PPRModel, batch: dict, targets: str, loss: str) -> tuple[float, int]:
    terms = []
    table = model.item_emb.weight
    for b in range(len(batch["items"])):
        for j in range(int(batch["lengths"][b])):
            if not is_target(model, targets, j, bool(batch["first"][b])):
                continue
            history = batch["items"][b : b + 1, : max(j, 1)] if j else torch.zeros(1, 1, dtype=torch.long)
            user = {"history": history, "lengths": torch.tensor([j]), "profile": batch["profile"][b : b + 1]}
            u = model.user_representation(user)[0]
            pos = int(batch["items"][b, j])
            if loss == "bpr":
                neg = int(batch["negatives"][b, j])
                margin = float(u @ table[pos] - u @ table[neg])
                terms.append(-math.log(1 / (1 + math.exp(-margin))))
            else:
                logits = [float(u @ table[i]) for i in range(1, N_ITEMS + 1)]
                top = max(logits)
                log_z = top + math.log(sum(math.exp(x - top) for x in logits))
                terms.append(log_z - logits[pos - 1])
    return (sum(terms) / len(terms) if terms else 0.0), len(terms)


@pytest.mark.parametrize("loss", ["bpr", "ce"])
@pytest.mark.parametrize("targets", ["few", "zero", "all"])
@pytest.mark.parametrize("name", list(MODELS))
def test_loss_equals_the_loop_reference(name, targets, loss):
    model = model_for(name)
    batch = hand_batch()
    want, n = reference_loss(model, batch, targets, loss)
    with torch.no_grad():
        got, parts = model.calculate_loss(batch, targets, loss=loss)
    assert got.item() == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert parts["rec"] == pytest.approx(want, rel=1e-5, abs=1e-6)
    # the batch has targets of each kind: few-shot 9, zero-shot 3
    expected_n = {"few": 9, "zero": 3, "all": 12}[targets]
    has_profile_side = name != "pretrain"
    assert n == (expected_n if has_profile_side else 9)


@pytest.mark.parametrize("targets", ["few", "zero", "all"])
def test_gru_backbone_loss_equals_the_loop_reference(targets):
    model = model_for("ppr", "gru4rec")
    batch = hand_batch()
    want, _ = reference_loss(model, batch, targets, "ce")
    with torch.no_grad():
        got, _ = model.calculate_loss(batch, targets, loss="ce")
    assert got.item() == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_target_mask_counts_each_kind_once():
    model = model_for("ppr")
    batch = hand_batch()
    few, zero, both = (model.target_mask(batch, t) for t in ("few", "zero", "all"))
    assert int(few.sum()) == 9 and int(zero.sum()) == 3
    assert torch.equal(both, few | zero) and not (few & zero).any()
    assert torch.equal(zero[:, 0], batch["first"]) and not zero[:, 1:].any()
    # padding is never a target
    cols = torch.arange(5)[None, :]
    assert not (both & (cols >= batch["lengths"][:, None])).any()
    with pytest.raises(ValueError, match="targets must be one of"):
        model.target_mask(batch, "some")


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss must be 'bpr' or 'ce'"):
        model_for("ft").calculate_loss(hand_batch(), "few", loss="hinge")


def test_loss_gradient_reaches_what_the_targets_use():
    """Zero-shot targets are read at the prompt: their loss gives the prompt generator a gradient."""
    model = model_for("ppr").train()
    loss, _ = model.calculate_loss(hand_batch(), "zero", loss="bpr")
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.prompt.parameters())


@pytest.mark.parametrize("name, expect_cl", [("ppr", True), ("ft", False), ("shared", True)])
def test_contrastive_terms_are_added_with_their_weights(name, expect_cl):
    """L = L_rec + lambda * L_CL (+ the sequence term's weight times its loss): the parts add
    up to the total. A model without a prompt has no prompt-oriented contrastive term."""
    from pprlib.models.ppr import ContrastiveConfig, SequenceCLConfig

    model = model_for(name)
    batch = hand_batch()
    rec, _ = reference_loss(model, batch, "all", "bpr")
    cl, seq = ContrastiveConfig(weight=0.3), SequenceCLConfig(weight=0.7)
    with torch.no_grad():
        total, parts = model.calculate_loss(batch, "all", cl, torch.Generator().manual_seed(0), "bpr", seq)
    assert parts["rec"] == pytest.approx(rec, rel=1e-5)
    assert ("cl" in parts) == expect_cl and "seq_cl" in parts
    expected = parts["rec"] + 0.3 * parts.get("cl", 0.0) + 0.7 * parts["seq_cl"]
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert parts.get("cl", 1.0) > 0 and parts["seq_cl"] > 0
    # weight 0: the term is not computed at all
    with torch.no_grad():
        _, off = model.calculate_loss(batch, "all", ContrastiveConfig(weight=0.0), None, "bpr",
                                      SequenceCLConfig(weight=0.0))
    assert set(off) == {"rec"}


@pytest.mark.parametrize("ratio", [0.0, 0.5])
def test_prompt_view_is_the_sequence_read_with_a_masked_profile(ratio):
    """The prompt-based view of each anchor: the same clicks read with the profile vector x_u
    masked at ``profile_ratio`` (drawn from the generator given); InfoNCE pulls it to the anchor.
    With ratio 0 the view is the anchor itself; with 0.5 it is not, so the term differs."""
    from pprlib import augment, losses
    from pprlib.models.ppr import ContrastiveConfig

    model, batch = model_for("ppr"), hand_batch()
    cl = ContrastiveConfig(weight=0.3, temperature=0.5, profile_ratio=ratio, behaviour_view=False)
    with torch.no_grad():
        _, parts = model.calculate_loss(batch, "all", cl, torch.Generator().manual_seed(4))
        mask = model.target_mask(batch, "all")
        x_u = model.profile_vector(batch["profile"])
        masked = augment.mask_profile_vectors(x_u, ratio, torch.Generator().manual_seed(4))
        assert torch.equal(masked, x_u) == (ratio == 0.0)
        anchor = model.sequence_states(batch["items"], x_u)[mask]
        view = model.sequence_states(batch["items"], masked)[mask]
        groups = batch["user"][:, None].expand_as(batch["items"])[mask]
        want = losses.info_nce(anchor, view, 0.5, groups)
        same = losses.info_nce(anchor, anchor, 0.5, groups)
    assert parts["cl"] == pytest.approx(float(want), rel=1e-5)
    assert (parts["cl"] == pytest.approx(float(same), rel=1e-5)) == (ratio == 0.0)


def test_behaviour_view_of_a_model_without_profile():
    """A model without a profile side reads the behaviour views from the clicks alone."""
    model = model_for("pretrain")
    items = hand_batch()["items"]
    rows, cols = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 3, 2, 0])
    with torch.no_grad():
        view, has_input = model.behaviour_view(items, rows, cols, None, 0.5, torch.Generator().manual_seed(0))
    assert has_input.tolist() == [False, True, True, False] and view.shape == (2, model.backbone_cfg.d)


@pytest.mark.parametrize("targets, widths", [("zero", {0}), ("few", {4}), ("all", {4})])
def test_zero_shot_loss_runs_the_backbone_over_the_prompt_alone(targets, widths):
    """A causal backbone's state at a target column reads only the columns up to it, so the loss
    drops the columns after the last target (``trim_to_targets``): zero-shot tuning, whose targets
    all sit at column 0, runs the backbone (and the prompt-based contrastive view) over the
    prompt alone; few-shot and joint batches keep their windows (the last click, only ever a
    target, is never read). The losses, contrastive term included, equal those of the untrimmed
    batch."""
    from pprlib.models import ppr
    from pprlib.models.ppr import ContrastiveConfig

    model = model_for("ppr")
    batch = hand_batch()
    seen = []
    hook = model.backbone.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape[1]))
    cl = ContrastiveConfig(weight=0.3, behaviour_view=False)
    with torch.no_grad():
        got, parts = model.calculate_loss(batch, targets, cl, torch.Generator().manual_seed(0), "bpr")
    hook.remove()
    assert set(seen) == widths and len(seen) == 2  # the sequence and the prompt-based view
    untrimmed = ppr.trim_to_targets
    try:
        ppr.trim_to_targets = lambda batch, mask: batch
        with torch.no_grad():
            want, want_parts = model.calculate_loss(batch, targets, cl, torch.Generator().manual_seed(0), "bpr")
    finally:
        ppr.trim_to_targets = untrimmed
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert parts["cl"] == pytest.approx(want_parts["cl"], rel=1e-6)


def test_trim_to_targets_keeps_every_column_up_to_the_last_target():
    from pprlib.models.ppr import trim_to_targets

    batch = hand_batch()
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[1, 2] = mask[3, 1] = True
    cut = trim_to_targets(batch, mask)
    assert torch.equal(cut["items"], batch["items"][:, :3]) and torch.equal(cut["negatives"], batch["negatives"][:, :3])
    assert cut["lengths"] is batch["lengths"] and cut["profile"] is batch["profile"]
    assert trim_to_targets(batch, torch.zeros(4, 5, dtype=torch.bool)) is batch  # no target: nothing to cut
    mask[0, 4] = True
    assert trim_to_targets(batch, mask) is batch


def test_the_width_setting_widens_the_generator_and_the_profile_model_only():
    from pprlib.models.ppr import PPRConfig, PPRModel, count_parameters

    narrow, wide = (PPRModel(50, [3, 4], ppr=PPRConfig(width=w)) for w in (1, 4))
    d = narrow.backbone_cfg.d
    assert wide.prompt.net[0].out_features == 4 * d == 4 * narrow.prompt.net[0].out_features
    assert wide.profile_model[0].out_features == 4 * d
    assert count_parameters(wide, "light") > count_parameters(narrow, "light")
    assert sum(p.numel() for p in wide.backbone.parameters()) == sum(p.numel() for p in narrow.backbone.parameters())
    with pytest.raises(ValueError, match="width"):
        PPRConfig(width=0)
