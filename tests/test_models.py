"""PPRModel and its backbones: shapes, the training/evaluation read-out contract, causality,
the prompt's effect, tuning modes (what is frozen), pre-trained loading and config validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pprlib import train as train_mod
from pprlib.data.batching import SequenceDataset
from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import MODES, ContrastiveConfig, PPRConfig, PPRModel, count_parameters
from pprlib.train import TrainConfig, fit

torch.set_num_threads(1)

N_ITEMS = 40
FIELDS = [3, 9, 6]  # sizes include the missing code 0
D = 16
BACKBONE_NAMES = ["sasrec", "gru4rec"]
# (prompt, n_prompt, profile_model)
PROMPTS = [
    ("none", 1, False),  # the pre-training model
    ("none", 1, True),  # the fine-tuning baseline
    ("personalized", 1, True),
    ("personalized", 3, True),
    ("shared", 1, True),
]
PROMPT_IDS = ["pretrain", "ft", "ppr-n1", "ppr-n3", "shared"]


def make(name="sasrec", prompt="personalized", n=1, profile_model=True, seed=0, n_items=N_ITEMS, d=D,
         use_sequence=True):
    torch.manual_seed(seed)
    bb = BackboneConfig(name=name, d=d, ffn=d, max_len=30)
    model = PPRModel(n_items, FIELDS, bb, PPRConfig(prompt=prompt, n_prompt=n, profile_model=profile_model,
                                                    use_sequence=use_sequence))
    return model.eval()


def profiles(b, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, s, (b,), generator=g) for s in FIELDS], dim=1)


def windows(b, w, lengths=None, seed=2):
    """Right-padded item windows (B, W) with real items in 1..N_ITEMS."""
    g = torch.Generator().manual_seed(seed)
    items = torch.randint(1, N_ITEMS + 1, (b, w), generator=g)
    lengths = torch.full((b,), w) if lengths is None else torch.as_tensor(lengths)
    cols = torch.arange(w)[None, :]
    return items.masked_fill(cols >= lengths[:, None], 0), lengths


def instance_batch(history, lengths, profile, candidates=None):
    batch = {"history": history, "lengths": lengths, "profile": profile}
    if candidates is not None:
        batch["candidates"] = candidates
    return batch


def xu(model, profile):
    return model.profile_vector(profile)


# ------------------------------------------------------------------------------------------
# shapes
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("prompt,n,pm", PROMPTS, ids=PROMPT_IDS)
def test_shapes_and_predict_matches_full_sort(name, prompt, n, pm):
    model = make(name, prompt, n, pm)
    b, w = 5, 7
    items, lengths = windows(b, w, lengths=[7, 3, 1, 5, 2])
    prof = profiles(b)
    with torch.no_grad():
        states = model.sequence_states(items, xu(model, prof))
        assert states.shape == (b, w, D)
        hl = torch.tensor([6, 3, 0, 5, 2])
        hist = items[:, :6].masked_fill(torch.arange(6)[None, :] >= hl[:, None], 0)
        us = model.user_state(hist, hl, xu(model, prof))
        assert us.shape == (b, D)
        g = torch.Generator().manual_seed(3)
        cands = torch.randint(1, N_ITEMS + 1, (b, 11), generator=g)
        batch = instance_batch(hist, hl, prof, cands)
        full = model.full_sort_predict(batch)
        assert full.shape == (b, N_ITEMS + 1)
        assert torch.isfinite(full).all()
        pred = model.predict(batch)
        assert pred.shape == (b, 11)
        torch.testing.assert_close(pred, torch.gather(full, 1, cands), rtol=1e-5, atol=1e-5)
    assert model.n_prefix == (0 if prompt == "none" else n)


# ------------------------------------------------------------------------------------------
# zero-shot read-out
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_zero_length_without_prompt_is_exactly_zero(name):
    b = 4
    prof = profiles(b)
    hist = torch.zeros(b, 3, dtype=torch.long)
    hl = torch.zeros(b, dtype=torch.long)
    model = make(name, "none", profile_model=False)
    with torch.no_grad():
        us = model.user_state(hist, hl, None)
        assert torch.equal(us, torch.zeros(b, D))
        assert torch.equal(model.full_sort_predict(instance_batch(hist, hl, prof)), torch.zeros(b, N_ITEMS + 1))
        # mixed batch: only the empty rows are zero
        hist2, hl2 = windows(b, 3, lengths=[0, 2, 0, 3])
        us2 = model.user_state(hist2, hl2, None)
        assert torch.equal(us2[[0, 2]], torch.zeros(2, D))
        assert (us2[[1, 3]].abs().sum(-1) > 0).all()
        # even a width-0 history is accepted and reads as zero
        assert torch.equal(model.user_state(hist[:, :0], hl, None), torch.zeros(b, D))
    # the fine-tuning baseline: u_s = 0, so u_p is the profile model alone
    ft = make(name, "none", profile_model=True)
    with torch.no_grad():
        x = xu(ft, prof)
        assert torch.equal(ft.user_state(hist, hl, x), torch.zeros(b, D))
        torch.testing.assert_close(ft.user_representation(instance_batch(hist, hl, prof)), ft.profile_model(x))


@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("prompt,n", [("personalized", 1), ("personalized", 3), ("shared", 2)])
def test_zero_length_with_prompt_reads_last_prompt_token(name, prompt, n):
    b = 4
    prof = profiles(b)
    model = make(name, prompt, n)
    items, _ = windows(b, 5)
    with torch.no_grad():
        x = xu(model, prof)
        us = model.user_state(torch.zeros(b, 3, dtype=torch.long), torch.zeros(b, dtype=torch.long), x)
        prompt_only = model._states(items[:, :0], x)  # just the prompt tokens
        assert prompt_only.shape == (b, n, D)
        torch.testing.assert_close(us, prompt_only[:, n - 1], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(us, model.sequence_states(items, x)[:, 0], rtol=1e-5, atol=1e-6)
        assert (us.abs().sum(-1) > 0).all()  # a real representation, not the zero fallback


# ------------------------------------------------------------------------------------------
# the training / evaluation contract: user_state(k clicks) == sequence_states[:, k]
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("prompt,n,pm", PROMPTS, ids=PROMPT_IDS)
def test_user_state_equals_sequence_state_for_every_k(name, prompt, n, pm):
    b, w = 6, 9
    model = make(name, prompt, n, pm)
    items, lengths = windows(b, w, lengths=[9, 9, 4, 1, 6, 2])
    prof = profiles(b)
    with torch.no_grad():
        x = xu(model, prof)
        seq = model.sequence_states(items, x)
        for k in range(w):
            rows = torch.nonzero(lengths > k).flatten()  # windows that contain a history of k clicks
            hist = items[rows].clone()
            hist[:, k:] = 0  # the first k clicks, right-padded to the window's width
            hl = torch.full((len(rows),), k)
            xr = None if x is None else x[rows]
            us = model.user_state(hist, hl, xr)
            torch.testing.assert_close(us, seq[rows, k], rtol=1e-4, atol=1e-5, msg=f"k={k}")
            # the same history in a tight tensor (no extra padding), as evaluation batches cut it
            tight = model.user_state(hist[:, : max(k, 1)], hl, xr)
            torch.testing.assert_close(tight, us, rtol=1e-4, atol=1e-5, msg=f"k={k} tight")


# ------------------------------------------------------------------------------------------
# causality and padding
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("prompt,n,pm", [PROMPTS[0], PROMPTS[3]], ids=["no-prompt", "ppr-n3"])
def test_output_after_i_clicks_depends_only_on_first_i(name, prompt, n, pm):
    b, w = 4, 8
    model = make(name, prompt, n, pm)
    items, _ = windows(b, w)
    prof = profiles(b)
    with torch.no_grad():
        x = xu(model, prof)
        base = model.sequence_states(items, x)
        for j in range(w - 1):  # the last click is only a target: changing it changes nothing
            changed = items.clone()
            changed[:, j] = changed[:, j] % N_ITEMS + 1  # a different real item
            out = model.sequence_states(changed, x)
            torch.testing.assert_close(out[:, : j + 1], base[:, : j + 1], rtol=0, atol=1e-6, msg=f"j={j}")
            # ... and it does reach the output after j + 1 clicks
            assert (out[:, j + 1] - base[:, j + 1]).abs().max() > 1e-4, f"j={j}"
        changed = items.clone()
        changed[:, -1] = changed[:, -1] % N_ITEMS + 1
        torch.testing.assert_close(model.sequence_states(changed, x), base, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("prompt,n,pm", [PROMPTS[1], PROMPTS[2]], ids=["ft", "ppr-n1"])
def test_extra_right_padding_does_not_change_user_state(name, prompt, n, pm):
    b = 5
    model = make(name, prompt, n, pm)
    hist, hl = windows(b, 6, lengths=[6, 3, 0, 1, 5])
    prof = profiles(b)
    with torch.no_grad():
        x = xu(model, prof)
        base = model.user_state(hist, hl, x)
        for extra in (1, 7, 20):
            padded = torch.cat([hist, torch.zeros(b, extra, dtype=torch.long)], dim=1)
            torch.testing.assert_close(model.user_state(padded, hl, x), base, rtol=1e-5, atol=1e-6)
        # and the rows of a batch do not see each other
        for r in range(b):
            alone = model.user_state(hist[r : r + 1], hl[r : r + 1], None if x is None else x[r : r + 1])
            torch.testing.assert_close(alone[0], base[r], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------
# the prompt reaches the items
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_profile_changes_few_shot_state_only_through_a_personalized_prompt(name):
    b = 6
    hist, hl = windows(b, 5, lengths=[5, 4, 3, 2, 1, 5])
    p1 = profiles(b, seed=1)
    p2 = (p1 + 1) % torch.tensor(FIELDS)  # every field of every user changed
    assert (p1 != p2).all()

    ppr = make(name, "personalized", 1)
    with torch.no_grad():
        a = ppr.user_state(hist, hl, xu(ppr, p1))
        c = ppr.user_state(hist, hl, xu(ppr, p2))
    assert ((a - c).abs().amax(-1) > 1e-4).all()  # few-shot (k >= 1) representations moved

    for prompt in ("none", "shared"):
        model = make(name, prompt, 1)
        with torch.no_grad():
            a = model.user_state(hist, hl, xu(model, p1))
            c = model.user_state(hist, hl, xu(model, p2))
            assert torch.equal(a, c), prompt  # u_s ignores the profile
            # ... although u_p sees it through the profile model
            ra = model.user_representation(instance_batch(hist, hl, p1))
            rc = model.user_representation(instance_batch(hist, hl, p2))
            assert (ra - rc).abs().max() > 1e-4


# ------------------------------------------------------------------------------------------
# edge batches during training
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("prompt,pm", [("none", False), ("none", True), ("personalized", True)])
def test_loss_on_a_batch_of_one_click_windows_is_finite(name, prompt, pm):
    """A batch cut from cold users with a single click has width 1 and no few-shot target."""
    b = 3
    model = make(name, prompt, 1, pm).train()
    items, lengths = windows(b, 1)
    batch = {"items": items, "lengths": lengths, "profile": profiles(b), "user": torch.arange(b),
             "first": torch.ones(b, dtype=torch.bool), "negatives": items % N_ITEMS + 1}
    loss, parts = model.calculate_loss(batch, "few", ContrastiveConfig())
    assert torch.isfinite(loss) and loss.item() == 0.0
    loss.backward()  # still a valid graph
    if pm:
        loss, _ = model.calculate_loss(batch, "zero", ContrastiveConfig())
        assert torch.isfinite(loss) and loss.item() > 0


# ------------------------------------------------------------------------------------------
# tuning modes
# ------------------------------------------------------------------------------------------
def _ids(params):
    return {id(p) for p in params}


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_configure_light_freezes_exactly_backbone_and_items(name):
    model = make(name, "personalized", 3)
    tuned = model.configure("light")
    backbone = _ids(list(model.item_emb.parameters()) + list(model.backbone.parameters()))
    profile_side = _ids(list(model.profile_emb.parameters()) + list(model.prompt.parameters())
                        + list(model.profile_model.parameters()))
    assert _ids(tuned) == profile_side
    for p in model.parameters():
        assert p.requires_grad == (id(p) not in backbone)
    assert backbone | profile_side == _ids(model.parameters())
    # 'full' unfreezes everything again
    assert _ids(model.configure("full")) == _ids(model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_configure_errors():
    with pytest.raises(ValueError, match="ft"):
        make("sasrec", "personalized").configure("ft")
    with pytest.raises(ValueError, match="ft"):
        make("sasrec", "shared").configure("ft")
    with pytest.raises(ValueError) as err:
        make("sasrec", "none").configure("lite")
    assert "lite" in str(err.value)
    for mode in MODES:
        assert mode in str(err.value)
    ft = make("sasrec", "none")
    assert _ids(ft.configure("ft")) == _ids(ft.parameters())


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_light_tunes_a_small_share_of_ft(name):
    light = make(name, "personalized", 1)
    ft = make(name, "none")
    n_light = count_parameters(light, "light")
    n_ft = count_parameters(ft, "ft")
    expected = sum(p.numel() for mod in (light.profile_emb, light.prompt, light.profile_model)
                   for p in mod.parameters())
    assert n_light == expected
    assert n_light < n_ft
    assert n_ft == sum(p.numel() for p in ft.parameters())
    # count_parameters leaves the model configured for the mode
    assert not light.item_emb.weight.requires_grad


# ------------------------------------------------------------------------------------------
# frozen weights stay bit-identical through a real training run
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    data = generate(SyntheticConfig(n_users=600, n_items=150, max_length=60))
    return data, split(data, ProtocolConfig())


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_light_training_keeps_frozen_weights_bit_identical(tiny, name, monkeypatch):
    data, sp = tiny
    bb = BackboneConfig(name=name, d=16, ffn=16, max_len=60)
    torch.manual_seed(0)
    pre = PPRModel(data.n_items, data.field_sizes, bb, PPRConfig(prompt="none", profile_model=False))
    state = pre.backbone_state()
    torch.manual_seed(1)
    model = PPRModel(data.n_items, data.field_sizes, bb, PPRConfig())
    model.load_pretrained(state)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    params = model.configure("light")
    frozen_before = model.backbone_state()
    prompt_before = {k: v.detach().clone() for k, v in model.prompt.state_dict().items()}

    # every epoch "improves" validation, so fit keeps the last epoch's weights
    scores = iter(range(100))
    monkeypatch.setattr(train_mod, "validate", lambda *a, **k: {"NDCG@10": float(next(scores))})
    ds = SequenceDataset(data, sp.tune_users, data.lengths[sp.tune_users], bb.max_len + 1, seed=0)
    cfg = TrainConfig(lr=1e-2, max_epochs=2, patience=5, batch_size=64, device="cpu", progress=False)
    history = fit(model, params, ds, sp, sp.instances("val"), cfg, cl=ContrastiveConfig())
    assert len(history) == 3
    assert "loss/cl" in history.columns and np.isfinite(history["loss/cl"].iloc[1:]).all()

    after = model.backbone_state()
    assert after.keys() == frozen_before.keys()
    for k, v in frozen_before.items():
        assert torch.equal(after[k], v), f"frozen tensor {k} changed"
    changed = [k for k, v in model.prompt.state_dict().items() if not torch.equal(v, prompt_before[k])]
    assert changed, "the prompt generator was not trained"


# ------------------------------------------------------------------------------------------
# loading pre-trained weights
# ------------------------------------------------------------------------------------------
def test_load_pretrained_roundtrip_and_mismatch():
    pre = make("sasrec", "none", profile_model=False, seed=5)
    state = pre.backbone_state()
    model = make("sasrec", "personalized", 1, seed=6)
    model.load_pretrained(state)
    for k, v in state.items():
        assert torch.equal(model.state_dict()[k], v)
    assert all(k.startswith(("item_emb.", "backbone.")) for k in state)
    with pytest.raises(ValueError):
        make("sasrec", "personalized", n_items=N_ITEMS + 5).load_pretrained(state)
    with pytest.raises(ValueError):
        make("sasrec", "personalized", d=32).load_pretrained(state)
    with pytest.raises(ValueError):
        make("gru4rec", "personalized").load_pretrained(state)


# ------------------------------------------------------------------------------------------
# configuration validation
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("build,field", [
    (lambda: PPRConfig(n_prompt=0), "n_prompt"),
    (lambda: PPRConfig(prompt="x"), "prompt"),
    (lambda: BackboneConfig(d=10, n_heads=3), "n_heads"),
    (lambda: BackboneConfig(name="bert"), "name"),
    (lambda: ContrastiveConfig(profile_ratio=1.5), "profile_ratio"),
    (lambda: ContrastiveConfig(temperature=0), "temperature"),
    (lambda: ContrastiveConfig(weight=-1), "weight"),
    (lambda: TrainConfig(lr=0), "lr"),
    (lambda: TrainConfig(targets="x"), "targets"),
], ids=["n_prompt", "prompt", "heads", "name", "profile_ratio", "temperature", "weight", "lr", "targets"])
def test_config_validation_names_the_field(build, field):
    with pytest.raises(ValueError) as err:
        build()
    assert field in str(err.value)


def test_valid_configs_are_accepted():
    PPRConfig(prompt="shared", n_prompt=3)
    BackboneConfig(d=12, n_heads=3, name="gru4rec")
    ContrastiveConfig(profile_ratio=1.0, item_ratio=0.0, temperature=0.05, weight=0.0)
    TrainConfig(lr=1e-5, targets="all")
