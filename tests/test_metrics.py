"""Tests for pprlib.metrics against plain-Python brute-force references.

Scores are mostly small random integers so that ties are frequent: the tie rule (a tie counts
against the positive) is where vectorized implementations usually go wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pprlib import metrics as M

KS = (1, 5, 10, 20, 50)


# ---------------------------------------------------------------------------------------------
# brute-force references: plain loops over Python lists, no torch
# ---------------------------------------------------------------------------------------------


def ref_from_rank(r: int, m: int, ks) -> dict[str, float]:
    out = {"AUC": (m - r) / m}
    for k in ks:
        out[f"HIT@{k}"] = 1.0 if r < k else 0.0
        out[f"NDCG@{k}"] = 1.0 / math.log2(r + 2) if r < k else 0.0
    return out


def ref_sampled(rows: list[list[float]], ks) -> tuple[list[int], list[dict[str, float]]]:
    ranks, mets = [], []
    for row in rows:
        pos = row[0]
        r = 0
        for s in row[1:]:
            if s >= pos:  # a tie counts against the positive
                r += 1
        ranks.append(r)
        mets.append(ref_from_rank(r, len(row) - 1, ks))
    return ranks, mets


def ref_full(rows, targets, exclude, ks):
    ranks, comps, mets = [], [], []
    for i, row in enumerate(rows):
        t = targets[i]
        r = m = 0
        for j in range(1, len(row)):  # column 0 is padding
            if j == t:
                continue
            if exclude is not None and exclude[i][j]:
                continue
            m += 1
            if row[j] >= row[t]:
                r += 1
        ranks.append(r)
        comps.append(m)
        mets.append(ref_from_rank(r, m, ks))
    return ranks, comps, mets


def assert_matches(got: dict[str, torch.Tensor], ref: list[dict[str, float]], ks) -> None:
    assert list(got) == list(M.metric_names(ks))
    for name, values in got.items():
        assert values.shape == (len(ref),)
        expected = torch.tensor([r[name] for r in ref], dtype=torch.float64)
        torch.testing.assert_close(values.double(), expected, rtol=1e-6, atol=1e-6, msg=name)


# ---------------------------------------------------------------------------------------------
# sampled evaluation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_cols", [2, 5, 100])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_matches_brute_force_with_ties(n_cols, seed):
    g = torch.Generator().manual_seed(seed)
    # small integer range (about 4 values per tie group): most rows tie with the positive
    scores = torch.randint(0, max(3, n_cols // 4), (200, n_cols), generator=g).float()
    ref_ranks, ref = ref_sampled(scores.tolist(), KS)
    ties = sum((row[1:] == row[0]).any().item() for row in scores)
    assert ties > 50  # the tie rule is really exercised
    assert len(set(ref_ranks)) >= min(n_cols, 5)  # ranks spread, so HIT/NDCG vary too

    ranks = M.rank_of_positive(scores)
    assert ranks.dtype == torch.long
    assert ranks.tolist() == ref_ranks
    assert_matches(M.sampled_metrics(scores, ks=KS), ref, KS)


def test_sampled_matches_brute_force_continuous():
    g = torch.Generator().manual_seed(7)
    scores = torch.randn(300, 100, generator=g, dtype=torch.float64)
    scores[:50, 0] += 3.0  # push some positives to the top so HIT@k varies
    _, ref = ref_sampled(scores.tolist(), KS)
    assert_matches(M.sampled_metrics(scores, ks=KS), ref, KS)


def test_hand_computed_examples():
    scores = torch.tensor(
        [
            [9.0, 1.0, 2.0, 3.0],  # positive best
            [0.0, 1.0, 2.0, 3.0],  # positive worst
            [5.0, 5.0, 5.0, 5.0],  # all equal: worst rank, not best
            [2.0, 1.0, 3.0, 2.0],  # one better, one tie, one worse -> r = 2
        ]
    )
    assert M.rank_of_positive(scores).tolist() == [0, 3, 3, 2]
    m = M.sampled_metrics(scores, ks=(1, 3))
    assert m["HIT@1"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert m["HIT@3"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert m["NDCG@1"][0].item() == 1.0
    assert m["NDCG@3"][3].item() == pytest.approx(0.5)  # 1 / log2(2 + 2)
    assert m["AUC"].tolist() == pytest.approx([1.0, 0.0, 0.0, 1 / 3])


def test_paper_auc_formula_c100():
    # the paper's AUC = (100 - rank) / 99 with a 1-based rank among 100 items
    scores = torch.arange(100, 0, -1, dtype=torch.float32).repeat(100, 1)
    for i in range(100):  # row i: the positive holds the (i+1)-th best score
        scores[i, 0], scores[i, i] = scores[i, i].clone(), scores[i, 0].clone()
    ranks = M.rank_of_positive(scores)
    assert ranks.tolist() == list(range(100))
    auc = M.sampled_metrics(scores)["AUC"]
    expected = torch.tensor([(100 - (i + 1)) / 99 for i in range(100)])
    torch.testing.assert_close(auc, expected)


def test_summarize_means():
    scores = torch.tensor([[9.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    s = M.summarize(M.sampled_metrics(scores, ks=(1,)))
    assert s == {"AUC": 0.5, "HIT@1": 0.5, "NDCG@1": 0.5}
    assert all(type(v) is float for v in s.values())
    with pytest.raises(ValueError, match="no instances"):
        M.summarize({"AUC": torch.empty(0)})


# ---------------------------------------------------------------------------------------------
# full ranking
# ---------------------------------------------------------------------------------------------


def _random_full(seed, n=150, n_items=60, p_exclude=0.3):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 6, (n, n_items + 1), generator=g).float()
    targets = torch.randint(1, n_items + 1, (n,), generator=g)
    exclude = torch.rand(n, n_items + 1, generator=g) < p_exclude
    return scores, targets, exclude


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_ranking_no_mask_matches_brute_force(seed):
    scores, targets, _ = _random_full(seed)
    scores[:, 0] = 100.0  # padding scores highest: it must still never count
    ref_ranks, ref_comps, ref = ref_full(scores.tolist(), targets.tolist(), None, KS)
    ranks, comps = M.rank_full(scores, targets)
    assert ranks.tolist() == ref_ranks
    assert comps.tolist() == ref_comps == [60 - 1] * 150
    assert_matches(M.full_ranking_metrics(scores, targets, ks=KS), ref, KS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_ranking_with_mask_matches_brute_force(seed):
    scores, targets, exclude = _random_full(seed)
    rows = torch.arange(len(targets))
    exclude[rows[::2], targets[::2]] = True  # mask covers the target in half the rows
    exclude[:, 0] = seed % 2 == 0  # padding column marked or not: must not matter
    ref_ranks, ref_comps, ref = ref_full(scores.tolist(), targets.tolist(), exclude.tolist(), KS)
    ranks, comps = M.rank_full(scores, targets, exclude)
    assert ranks.tolist() == ref_ranks
    assert comps.tolist() == ref_comps
    assert len(set(ref_comps)) > 1  # per-row competitor counts really differ
    assert_matches(M.full_ranking_metrics(scores, targets, exclude, ks=KS), ref, KS)


def test_full_ranking_target_masked_is_still_ranked():
    scores = torch.tensor([[0.0, 5.0, 3.0, 4.0, 1.0]])
    exclude = torch.tensor([[False, True, True, False, False]])  # excludes item 1 and target 2
    ranks, comps = M.rank_full(scores, torch.tensor([2]), exclude)
    # competitors: items 3 (4.0) and 4 (1.0); only item 3 beats the target
    assert ranks.tolist() == [1] and comps.tolist() == [2]
    assert M.full_ranking_metrics(scores, [2], exclude, ks=(1,))["AUC"].item() == 0.5


def test_full_ranking_all_equal_is_worst():
    scores = torch.zeros(3, 11)
    ranks, comps = M.rank_full(scores, torch.tensor([1, 5, 10]))
    assert ranks.tolist() == [9, 9, 9] and comps.tolist() == [9, 9, 9]
    assert M.full_ranking_metrics(scores, [1, 5, 10])["AUC"].tolist() == [0.0, 0.0, 0.0]


def test_full_ranking_allows_inf_on_excluded_and_padding():
    scores = torch.tensor([[float("-inf"), 2.0, float("-inf"), 1.0, 3.0]])
    exclude = torch.tensor([[False, False, True, False, False]])
    ranks, _ = M.rank_full(scores, torch.tensor([1]), exclude)
    assert ranks.tolist() == [1]
    with pytest.raises(ValueError, match="1 of 1 rows"):
        M.rank_full(scores, torch.tensor([1]))  # item 2 now competes with -inf


def test_no_competitors_raises():
    scores = torch.zeros(2, 3)
    exclude = torch.tensor([[False, False, True], [False, False, False]])
    with pytest.raises(ValueError, match="n_competitors must be >= 1"):
        M.full_ranking_metrics(scores, [1, 1], exclude)


# ---------------------------------------------------------------------------------------------
# exclusion mask
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_exclusion_mask_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    n, L, n_items = 40, 12, 30
    hist = torch.randint(0, n_items + 1, (n, L), generator=g)  # 0s act as padding, repeats happen
    hist[0] = 0  # an empty history
    hist[1, :] = n_items  # the last item only
    expected = [[False] * (n_items + 1) for _ in range(n)]
    for i, row in enumerate(hist.tolist()):
        for item in row:
            if item != 0:
                expected[i][item] = True
    mask = M.exclusion_mask(hist, n_items)
    assert mask.dtype == torch.bool and mask.shape == (n, n_items + 1)
    assert mask.tolist() == expected


def test_exclusion_mask_validation():
    with pytest.raises(ValueError, match="histories"):
        M.exclusion_mask(torch.tensor([[1, 31]]), 30)
    with pytest.raises(ValueError, match="histories"):
        M.exclusion_mask(torch.tensor([1, 2]), 30)
    with pytest.raises(ValueError, match="n_items"):
        M.exclusion_mask(torch.tensor([[1, 2]]), 0)
    assert M.exclusion_mask(torch.zeros(3, 0, dtype=torch.long), 4).sum() == 0


# ---------------------------------------------------------------------------------------------
# inputs: non-finite, numpy, low precision, validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_raises(bad):
    scores = torch.zeros(5, 4)
    scores[1, 2] = bad
    scores[3, 0] = bad
    with pytest.raises(ValueError, match="NaN or inf in 2 of 5 rows"):
        M.sampled_metrics(scores)
    scores[4, 1] = bad  # a target in full ranking; [3, 0] is the ignored padding column there
    with pytest.raises(ValueError, match="NaN or inf in 2 of 5 rows"):
        M.full_ranking_metrics(scores, [1, 1, 1, 1, 1])


def test_numpy_input():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 20)).astype(np.float64)
    _, ref = ref_sampled(scores.tolist(), KS)
    assert_matches(M.sampled_metrics(scores, ks=KS), ref, KS)

    targets = rng.integers(1, 20, size=50)
    exclude = rng.random((50, 20)) < 0.2
    _, _, ref = ref_full(scores.tolist(), targets.tolist(), exclude.tolist(), KS)
    assert_matches(M.full_ranking_metrics(scores, targets, exclude, ks=KS), ref, KS)

    hist = rng.integers(0, 20, size=(50, 6))
    assert M.exclusion_mask(hist, 19).shape == (50, 20)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_scores(dtype):
    g = torch.Generator().manual_seed(3)
    # small integers are exact in both dtypes, so the float64 reference sees the same values
    scores = torch.randint(-8, 8, (120, 100), generator=g).to(dtype)
    _, ref = ref_sampled(scores.double().tolist(), KS)
    assert_matches(M.sampled_metrics(scores, ks=KS), ref, KS)

    targets = torch.randint(1, 100, (120,), generator=g)
    _, _, ref = ref_full(scores.double().tolist(), targets.tolist(), None, KS)
    assert_matches(M.full_ranking_metrics(scores, targets, ks=KS), ref, KS)

    # distinct in float32 but equal after rounding: a tie in the model's dtype, so it counts
    close = torch.tensor([[1.0, 1.0 + 1e-4]]).to(dtype)
    assert M.rank_of_positive(close).tolist() == [1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    scores, targets, exclude = _random_full(5)
    cpu = M.full_ranking_metrics(scores, targets, exclude)
    gpu = M.full_ranking_metrics(scores.cuda(), targets.cuda(), exclude.cuda())
    for name in cpu:
        assert gpu[name].device.type == "cuda"
        torch.testing.assert_close(gpu[name].cpu(), cpu[name])
    torch.testing.assert_close(
        M.sampled_metrics(scores.cuda())["AUC"].cpu(), M.sampled_metrics(scores)["AUC"]
    )


def test_metric_names_order():
    assert M.metric_names((5, 10)) == ("AUC", "HIT@5", "NDCG@5", "HIT@10", "NDCG@10")
    assert M.METRIC_NAMES() == M.metric_names(M.DEFAULT_KS)
    assert list(M.sampled_metrics(torch.zeros(1, 3))) == list(M.METRIC_NAMES())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: M.sampled_metrics(torch.zeros(4)), "scores must be 2-D"),
        (lambda: M.sampled_metrics(torch.zeros(4, 1)), "at least 2 columns"),
        (lambda: M.sampled_metrics(torch.zeros(4, 3), ks=(0,)), "ks must be positive"),
        (lambda: M.sampled_metrics(torch.zeros(4, 3), ks=(2.5,)), "ks must be positive"),
        (lambda: M.sampled_metrics(torch.zeros(4, 3), ks=(True,)), "ks must be positive"),
        (lambda: M.rank_full(torch.zeros(2, 5), [1, 5]), r"targets must be item ids in 1\.\.n_items = 1\.\.4"),
        (lambda: M.rank_full(torch.zeros(2, 5), [0, 1]), r"targets must be item ids"),
        (lambda: M.rank_full(torch.zeros(2, 5), [1, 2, 3]), r"targets must have shape \(n,\)"),
        (lambda: M.rank_full(torch.zeros(2, 5), [1.0, 2.0]), "targets must be an integer"),
        (
            lambda: M.rank_full(torch.zeros(2, 5), [1, 2], torch.zeros(2, 4, dtype=torch.bool)),
            "exclude must have the shape",
        ),
        (
            lambda: M.rank_full(torch.zeros(2, 5), [1, 2], torch.zeros(2, 5)),
            "exclude must be a boolean",
        ),
        (lambda: M.metrics_from_ranks(torch.tensor([0, 5]), 4), "ranks must lie in"),
        (lambda: M.metrics_from_ranks(torch.tensor([0, 1]), [3, 3, 3]), "n_competitors"),
    ],
)
def test_validation_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_metrics_from_ranks_int_and_tensor_competitors():
    ranks = torch.tensor([0, 1, 3])
    a = M.metrics_from_ranks(ranks, 3, ks=(2,))
    b = M.metrics_from_ranks(ranks, torch.tensor([3, 3, 3]), ks=(2,))
    for name in a:
        torch.testing.assert_close(a[name], b[name])
    assert a["AUC"].tolist() == pytest.approx([1.0, 2 / 3, 0.0])
    assert a["NDCG@2"].tolist() == pytest.approx([1.0, 1 / math.log2(3), 0.0])


# ---------------------------------------------------------------------------------------------
# full ranking excludes the user's whole earlier history
# ---------------------------------------------------------------------------------------------


def _long_history_split(max_history=5):
    from pprlib.data.protocol import ProtocolConfig, split
    from pprlib.data.synthetic import SyntheticConfig, generate

    data = generate(SyntheticConfig(n_users=400, n_items=300, max_length=60, seed=3))
    return split(data, ProtocolConfig(max_history=max_history, seed=3))


def test_history_mask_holds_every_earlier_click_and_nothing_later():
    from pprlib.evaluation import history_mask

    sp = _long_history_split()
    data, inst = sp.data, sp.instances("warm_test")
    long = np.flatnonzero(inst.positions > 5)[:20]  # longer than the input window of 5 clicks
    assert len(long) > 0
    mask = history_mask(data, inst.users[long], inst.positions[long])
    for row, i in enumerate(long):
        seq = data.sequence(inst.users[i])
        earlier = set(seq[: inst.positions[i]].tolist())
        assert set(torch.nonzero(mask[row]).flatten().tolist()) == earlier
    assert not mask[:, 0].any()


def test_full_ranking_drops_items_clicked_before_the_window():
    """A scorer that puts the user's first click on top: excluded under the field's rule (the
    whole history), a competitor under the window rule when the first click left the window."""
    from pprlib.evaluation import evaluate

    sp = _long_history_split()
    data, inst = sp.data, sp.instances("warm_test")
    first = data.items[data.offsets[inst.users]]
    seq_items = [set(data.sequence(u)[max(0, p - 5):p].tolist())
                 for u, p in zip(inst.users, inst.positions, strict=True)]
    # instances whose first click is neither the target nor in the window of 5
    outside = np.array([f != t and f not in w for f, t, w in zip(first, inst.targets, seq_items, strict=True)])
    chosen = inst.select(outside & (inst.positions > 5))
    assert len(chosen) > 0
    first_click = torch.from_numpy(data.items[np.minimum(data.offsets[:-1], len(data.items) - 1)])  # per user

    def scorer(batch):
        scores = torch.zeros(len(batch["target"]), data.n_items + 1)
        rows = torch.arange(len(batch["target"]))
        scores[rows, batch["target"]] = 1.0  # the target second, behind the user's first click
        scores[rows, first_click[batch["user"]]] = 2.0
        return scores

    whole = evaluate(scorer, sp, chosen, ks=(1,))
    window = evaluate(scorer, sp, chosen, ks=(1,), exclude="window")
    assert (whole["full/HIT@1"] == 1).all()  # the first click is not a competitor
    assert (window["full/HIT@1"] == 0).all()  # it was, when only the window was excluded
    assert (whole["HIT@1"] == window["HIT@1"]).all()  # sampled metrics do not change


def test_full_ranking_never_excludes_the_target_and_checks_the_rule():
    from pprlib.evaluation import evaluate, history_mask

    sp = _long_history_split()
    data, inst = sp.data, sp.instances("warm_test")
    repeat = np.array([t in set(data.sequence(u)[:p].tolist()) for u, p, t in
                       zip(inst.users, inst.positions, inst.targets, strict=True)])
    if repeat.any():  # a target clicked before is in the mask, and still ranked
        i = np.flatnonzero(repeat)[:1]
        assert history_mask(data, inst.users[i], inst.positions[i])[0, inst.targets[i[0]]]
    out = evaluate(lambda b: torch.randn(len(b["target"]), data.n_items + 1), sp, inst.select(np.arange(20)))
    assert np.isfinite(out["full/NDCG@10"]).all()
    with pytest.raises(ValueError, match="exclude"):
        evaluate(lambda b: None, sp, inst, exclude="seen")
@pytest.mark.parametrize("bad", [torch.tensor([[1.0, 2.0]]), torch.tensor([[True, False]]),
                                 torch.tensor([[1 + 0j]])])
def test_exclusion_mask_refuses_histories_that_are_not_item_ids(bad):
    with pytest.raises(ValueError, match="histories must be an integer tensor"):
        M.exclusion_mask(bad, 4)


def test_exclusion_mask_with_a_single_item_and_bad_counts():
    mask = M.exclusion_mask(torch.tensor([[1, 0], [0, 0]]), 1)
    assert mask.tolist() == [[False, True], [False, False]]
    for n_items in (True, 2.0, "3"):
        with pytest.raises(ValueError, match="n_items must be a positive int"):
            M.exclusion_mask(torch.tensor([[1]]), n_items)


@pytest.mark.parametrize("fn", [M.rank_of_positive, M.sampled_metrics])
def test_sampled_shape_errors_describe_the_layout(fn):
    with pytest.raises(ValueError, match=r"shape \(n, C\): positive in column 0, then C - 1 negatives"):
        fn(torch.zeros(5))


# ---------------------------------------------------------------------------------------------
# the contracts of metrics_from_ranks and rank_full: dtypes, broadcasting, what errors name
# ---------------------------------------------------------------------------------------------


def test_every_metric_is_float32():
    out = M.metrics_from_ranks(torch.tensor([0, 2, 7]), 9, ks=(1, 5))
    assert {name: v.dtype for name, v in out.items()} == {name: torch.float32 for name in M.metric_names((1, 5))}


def test_n_competitors_broadcasts_from_one_value_or_one_per_row():
    ranks = torch.tensor([0, 1, 3])
    one = M.metrics_from_ranks(ranks, torch.tensor([3]), ks=(2,))
    per_row = M.metrics_from_ranks(ranks, torch.tensor([3, 4, 5]), ks=(2,))
    assert one["AUC"].tolist() == pytest.approx([1.0, 2 / 3, 0.0])
    assert per_row["AUC"].tolist() == pytest.approx([1.0, 3 / 4, 2 / 5])
    for bad in (torch.tensor([[3, 3, 3]]), torch.tensor([[3]]), torch.tensor([3, 3])):
        with pytest.raises(ValueError, match=r"n_competitors must be an int or have shape \(n,\) = \(3,\)"):
            M.metrics_from_ranks(ranks, bad)


@pytest.mark.parametrize("ranks", [torch.tensor([0.0, 1.0]), torch.tensor([True, False]), torch.tensor([0j, 1j])])
def test_ranks_must_be_integers(ranks):
    with pytest.raises(ValueError, match="ranks must be an integer tensor"):
        M.metrics_from_ranks(ranks, 3)


def test_errors_name_the_argument_and_count_the_rows():
    with pytest.raises(ValueError, match="n_competitors must be an integer tensor"):
        M.metrics_from_ranks(torch.tensor([0, 1]), torch.tensor([2.0, 2.0]))
    with pytest.raises(ValueError, match="n_competitors must be >= 1, got 0 in 2 rows"):
        M.metrics_from_ranks(torch.tensor([0, 0, 0, 0]), torch.tensor([0, 1, 0, 5]))
    with pytest.raises(ValueError, match=r"scores must be 2-D with shape \(n, n_items \+ 1\): column 0 is padding"):
        M.rank_full(torch.zeros(5), torch.tensor([1]))
