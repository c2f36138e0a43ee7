"""Losses against hand-written formulas and brute-force Python implementations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pprlib import losses
from pprlib.losses import bpr, info_nce

torch.set_num_threads(1)


def test_bpr_hand_formula():
    pos = torch.tensor([2.0, 0.0, -1.0, 3.5])
    neg = torch.tensor([1.0, 0.0, 1.0, -2.0])
    expected = sum(-math.log(1.0 / (1.0 + math.exp(-(p - n))))
                   for p, n in zip(pos.tolist(), neg.tolist(), strict=True)) / 4
    assert bpr(pos, neg).item() == pytest.approx(expected, rel=1e-6)
    assert bpr(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(math.log(2), rel=1e-6)


def test_bpr_direction_gradient_and_stability():
    assert bpr(torch.tensor([5.0]), torch.tensor([0.0])) < bpr(torch.tensor([0.0]), torch.tensor([5.0]))
    pos = torch.tensor([1.0, -2.0], requires_grad=True)
    neg = torch.tensor([0.0, 0.0])
    bpr(pos, neg).backward()
    expected = -(1 - torch.sigmoid(pos.detach() - neg)) / 2  # d/dpos of mean -log sigmoid
    torch.testing.assert_close(pos.grad, expected)
    # no overflow for large margins
    big = bpr(torch.tensor([-200.0, 200.0]), torch.tensor([0.0, 0.0]))
    assert torch.isfinite(big) and big.item() == pytest.approx(100.0, rel=1e-4)


def test_bpr_without_pairs_is_zero_not_nan():
    empty = torch.zeros(0, requires_grad=True)
    loss = bpr(empty, torch.zeros(0))
    assert loss.item() == 0.0
    loss.backward()


def _random(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


@pytest.mark.parametrize("tau", [1.0, 0.2, 0.05])
def test_info_nce_is_cross_entropy_over_cosine_logits(tau):
    a, p = _random(7, 5, 0)
    logits = F.cosine_similarity(a[:, None, :], p[None, :, :], dim=-1) / tau
    expected = F.cross_entropy(logits, torch.arange(7))
    torch.testing.assert_close(info_nce(a, p, tau), expected, rtol=1e-5, atol=1e-6)
    # all-distinct groups change nothing
    torch.testing.assert_close(info_nce(a, p, tau, torch.arange(7) * 3), expected, rtol=1e-5, atol=1e-6)


def test_info_nce_scale_invariant_and_prefers_aligned_views():
    a, p = _random(6, 4, 1)
    torch.testing.assert_close(info_nce(a, p), info_nce(3 * a, 0.5 * p))
    assert info_nce(a, a, 0.1) < info_nce(a, p, 0.1)


def brute_info_nce(a, p, tau, groups):
    a = [[float(x) for x in row] for row in a]
    p = [[float(x) for x in row] for row in p]

    def cos(u, v):
        dot = sum(x * y for x, y in zip(u, v, strict=True))
        return dot / (math.sqrt(sum(x * x for x in u)) * math.sqrt(sum(y * y for y in v)))

    total = 0.0
    for i in range(len(a)):
        terms = [cos(a[i], p[j]) / tau for j in range(len(a)) if j == i or groups[j] != groups[i]]
        total += -(cos(a[i], p[i]) / tau) + math.log(sum(math.exp(t) for t in terms))
    return total / len(a)


@pytest.mark.parametrize("groups", [
    [0, 0, 1, 2, 2, 2, 3],
    [5, 5, 5, 5, 5, 5, 5],  # one user only: every row is its own positive, loss 0
    [1, 2, 1, 2, 1, 2, 9],
])
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_info_nce_same_user_pairs_leave_the_denominator(groups, tau):
    a, p = _random(7, 5, 2)
    g = torch.tensor(groups)
    got = info_nce(a, p, tau, g).item()
    assert got == pytest.approx(brute_info_nce(a, p, tau, groups), rel=1e-5, abs=1e-6)
    if len(set(groups)) < len(groups):
        assert got != pytest.approx(info_nce(a, p, tau).item(), rel=1e-4)  # the mask matters
    if len(set(groups)) == 1:
        assert got == pytest.approx(0.0, abs=1e-6)


def test_info_nce_groups_leave_inputs_unchanged_and_give_finite_gradients():
    a, p = _random(5, 3, 3)
    a.requires_grad_()
    g = torch.tensor([0, 0, 1, 1, 2])
    g_before = g.clone()
    loss = info_nce(a, p, 0.5, g)
    loss.backward()
    assert torch.equal(g, g_before)
    assert torch.isfinite(a.grad).all()


@pytest.mark.parametrize("tau", [0.0, -1.0])
def test_info_nce_rejects_non_positive_temperature(tau):
    a, p = _random(3, 2, 4)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(a, p, tau)


@pytest.mark.parametrize("n, chunk", [(1, 256), (300, 64), (513, 256)])
def test_chunked_softmax_ce_equals_the_plain_formula(n, chunk):
    g = torch.Generator().manual_seed(n)
    u = torch.randn(n, 16, generator=g, requires_grad=True)
    w = torch.randn(50, 16, generator=g, requires_grad=True)
    target = torch.randint(0, 50, (n,), generator=g)
    got = losses.softmax_cross_entropy(u, w, target, chunk=chunk)
    (got * 3.0).backward()
    grads = u.grad.clone(), w.grad.clone()
    u.grad, w.grad = None, None
    want = torch.nn.functional.cross_entropy(u @ w.T, target)
    (want * 3.0).backward()
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(grads[0], u.grad, atol=1e-5) and torch.allclose(grads[1], w.grad, atol=1e-5)


def test_chunked_softmax_ce_gradcheck_and_frozen_weights():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 5, (7,), generator=g)
    assert torch.autograd.gradcheck(lambda a, b: losses._ChunkedSoftmaxCE.apply(a, b, target, 3), (u, w))
    frozen = torch.randn(5, 4, generator=g)  # no gradient wanted for the item table
    x = torch.randn(7, 4, generator=g, requires_grad=True)
    losses.softmax_cross_entropy(x, frozen, target).backward()
    assert x.grad is not None and frozen.grad is None
    empty = losses.softmax_cross_entropy(torch.zeros(0, 4, requires_grad=True), frozen, target[:0])
    assert float(empty) == 0.0


def test_info_nce_default_temperature_is_one():
    a, p = _random(5, 3, 5)
    assert info_nce(a, p).item() == pytest.approx(info_nce(a, p, 1.0).item())
    assert info_nce(a, p).item() != pytest.approx(info_nce(a, p, 2.0).item())


def _ce_case(n=300, items=50, d=8, seed=7):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(items, d, generator=g), torch.randint(0, items, (n,), generator=g)


def test_chunked_softmax_ce_without_gradients_covers_every_chunk():
    u, w, target = _ce_case()
    with torch.no_grad():
        got = losses.softmax_cross_entropy(u, w, target, chunk=64)
    assert got.item() == pytest.approx(F.cross_entropy(u @ w.T, target).item(), rel=1e-5)


@pytest.mark.parametrize("trained", ["u", "weight"])
def test_chunked_softmax_ce_gradient_of_one_input_only(trained):
    """Frozen item table (PPR(light)) or a frozen user side: the gradient of the trained input
    is the plain formula's, and the frozen one gets none."""
    u, w, target = _ce_case()
    (u if trained == "u" else w).requires_grad_()
    losses.softmax_cross_entropy(u, w, target, chunk=64).backward()
    ours = (u if trained == "u" else w).grad.clone()
    frozen = w if trained == "u" else u
    assert frozen.grad is None
    (u if trained == "u" else w).grad = None
    F.cross_entropy(u @ w.T, target).backward()
    torch.testing.assert_close(ours, (u if trained == "u" else w).grad, rtol=1e-4, atol=1e-6)


def test_softmax_ce_outside_the_cpu_float32_path_is_the_plain_formula():
    u, w, target = _ce_case(n=20)
    u64, w64 = u.double().requires_grad_(), w.double()
    got = losses.softmax_cross_entropy(u64, w64, target)
    want = F.cross_entropy(u.double() @ w.double().T, target)
    assert got.dtype == torch.float32 and got.item() == pytest.approx(want.item(), rel=1e-6)
    got.backward()
    assert u64.grad is not None and torch.isfinite(u64.grad).all()


def test_nt_xent_temperature_default_and_range():
    from pprlib.losses import nt_xent

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    assert nt_xent(a, b).item() == pytest.approx(nt_xent(a, b, 1.0).item())
    assert nt_xent(a, b, 0.5).item() != pytest.approx(nt_xent(a, b, 1.0).item())
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(a, b, 0.0)


def test_padding_rows_change_neither_info_nce_nor_bpr():
    """The masked forms (runs trained together pad their batches, pprlib.batched) equal the
    plain losses on the rows that exist, and give 0 when no row exists."""
    from pprlib.losses import bpr

    g = torch.Generator().manual_seed(3)
    a, p = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    groups = torch.tensor([0, 0, 1, 2, 2, 3])
    pad_a, pad_p = torch.cat([a, torch.randn(3, 8, generator=g)]), torch.cat([p, torch.randn(3, 8, generator=g)])
    valid = torch.arange(9) < 6
    padded_groups = torch.cat([groups, torch.zeros(3, dtype=torch.long)])  # padding shares a real row's group
    torch.testing.assert_close(info_nce(pad_a, pad_p, 0.5, padded_groups, valid), info_nce(a, p, 0.5, groups))
    assert info_nce(a, p, 0.5, groups, torch.ones(6, dtype=torch.bool)) == pytest.approx(info_nce(a, p, 0.5, groups).item())
    assert float(info_nce(pad_a, pad_p, 0.5, padded_groups, torch.zeros(9, dtype=torch.bool))) == 0.0
    pos, neg = torch.randn(9, generator=g), torch.randn(9, generator=g)
    torch.testing.assert_close(bpr(pos, neg, valid), bpr(pos[:6], neg[:6]))
    assert float(bpr(pos, neg, torch.zeros(9, dtype=torch.bool))) == 0.0
