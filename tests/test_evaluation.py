"""evaluate() with scorers whose outputs are known: every per-instance value is predicted
exactly, so rows that come back out of instance order, history items left in the full ranking,
or a profile override that does not reach the scorer all fail. Plus the popularity baselines,
the summary frame and the user vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.evaluation import evaluate, most_popular, summary_frame, user_vectors
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import PPRConfig, PPRModel


@pytest.fixture(scope="module")
def sp():
    return split(generate(SyntheticConfig(n_users=400, n_items=200, max_length=40)), ProtocolConfig())


def planted_rank(batch) -> torch.Tensor:
    """The rank each instance's target should get: it varies with the user and the history
    length, so two instances of one batch rarely share it, and some ranks lie past 10."""
    return (batch["user"] * 7 + batch["lengths"] * 3) % 13


def scripted_scorer(n_items: int, rank=planted_rank):
    """Scores that put exactly ``rank(batch)`` candidates above the target (sampled and full
    ranking alike) and every history item above all of them (they must be excluded)."""

    def scorer(batch):
        b = len(batch["target"])
        scores = torch.full((b, n_items + 1), -1.0)
        scores.scatter_(1, batch["history"], 3.0)  # history: above everything (padding column 0 too)
        r = rank(batch)
        for i in range(b):
            scores[i, batch["candidates"][i, 1 : 1 + int(r[i])]] = 2.0
        scores[torch.arange(b), batch["target"]] = 1.0
        return scores

    return scorer


def expected_rows(sp, inst, rank_of_instance, profiles=None):
    """Per instance, in instance order: (rank, number of full-ranking competitors)."""
    data = sp.data
    ranks, competitors = [], []
    for i, (u, pos, target) in enumerate(zip(inst.users, inst.positions, inst.targets, strict=True)):
        history = set(data.sequence(u)[max(0, pos - sp.config.max_history) : pos].tolist())
        ranks.append(rank_of_instance(i, u, pos))
        competitors.append(data.n_items - len(history - {int(target)}) - 1)
    return np.array(ranks), np.array(competitors)


def test_rows_follow_instance_order_and_history_is_excluded(sp):
    inst = sp.instances("test")
    # the check only means something if the instances are not already in length order
    assert not np.all(np.diff(inst.positions) >= 0)
    # histories shorter than the input window: "the user's history" and "the model's input" agree
    assert inst.positions.max() < sp.config.max_history
    out = evaluate(scripted_scorer(sp.data.n_items), sp, inst, batch_size=7, ks=(5, 10))
    ranks, m = expected_rows(sp, inst, lambda i, u, pos: (u * 7 + pos * 3) % 13)
    np.testing.assert_allclose(out["AUC"], (99 - ranks) / 99, rtol=1e-6)
    np.testing.assert_allclose(out["NDCG@10"], np.where(ranks < 10, 1 / np.log2(ranks + 2), 0.0), rtol=1e-6)
    np.testing.assert_array_equal(out["HIT@5"], (ranks < 5).astype(np.float32))
    # full ranking: the same rank (history items excluded), among every other unseen item
    np.testing.assert_allclose(out["full/AUC"], (m - ranks) / m, rtol=1e-6)
    np.testing.assert_allclose(out["full/NDCG@10"], out["NDCG@10"], rtol=1e-6)
    assert all(len(v) == len(inst) for v in out.values())


def test_without_full_ranking_only_sampled_metrics(sp):
    out = evaluate(scripted_scorer(sp.data.n_items), sp, sp.instances("val"), full_ranking=False, ks=(10,))
    assert set(out) == {"AUC", "HIT@10", "NDCG@10"}


def test_profile_override_reaches_the_scorer(sp):
    inst = sp.instances("test")
    field_rank = lambda batch: batch["profile"][:, 0] * 4 + 1  # noqa: E731
    own = evaluate(scripted_scorer(sp.data.n_items, field_rank), sp, inst, full_ranking=False, batch_size=16)
    expected = sp.data.profiles[inst.users, 0] * 4 + 1
    np.testing.assert_allclose(own["AUC"], (99 - expected) / 99, rtol=1e-6)
    other = sp.data.profiles.copy()
    other[:, 0] = (other[:, 0] + 1) % sp.data.field_sizes[0]
    moved = evaluate(scripted_scorer(sp.data.n_items, field_rank), sp, inst, full_ranking=False, batch_size=16,
                     profiles=other)
    np.testing.assert_allclose(moved["AUC"], (99 - (other[inst.users, 0] * 4 + 1)) / 99, rtol=1e-6)
    assert not np.array_equal(own["AUC"], moved["AUC"])


def test_instances_without_candidates_are_refused(sp):
    with pytest.raises(ValueError, match="no fixed candidates"):
        evaluate(scripted_scorer(sp.data.n_items), sp, sp.instances("tune"))


def test_most_popular_counts_warm_training_clicks_only(sp):
    data = sp.data
    users, lengths = sp.pretrain_sequences()
    counts = np.zeros(data.n_items + 1)
    for u, n in zip(users, lengths, strict=True):
        np.add.at(counts, data.sequence(u)[:n], 1)
    batch = {"target": torch.zeros(3, dtype=torch.long)}
    scores = most_popular(sp)(batch)
    assert scores.shape == (3, data.n_items + 1)
    # the counts themselves, plus a tie-break below one click that grows with the item id
    np.testing.assert_allclose(scores[1].numpy(), counts + np.linspace(0, 1e-3, data.n_items + 1), atol=1e-5)
    first = np.bincount(data.items[data.offsets[sp.tune_users]], minlength=data.n_items + 1)
    cold = most_popular(sp, "cold_first")(batch)[0].numpy()
    np.testing.assert_allclose(cold, first + np.linspace(0, 1e-3, data.n_items + 1), atol=1e-5)
    with pytest.raises(ValueError, match="source must be"):
        most_popular(sp, "everyone")


def test_summary_frame_is_one_row_of_means_per_method():
    frame = summary_frame({"a": {"AUC": np.array([0.5, 1.0])}, "b": {"AUC": np.array([0.25, 0.25])}})
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"AUC": [0.75, 0.25]}, index=["a", "b"]))


def test_user_vectors_read_each_users_most_recent_window(sp):
    torch.manual_seed(0)
    bb = BackboneConfig(d=8, ffn=8, max_len=5)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, bb, PPRConfig()).eval()
    users = np.array([sp.warm_users[0], sp.test_users[0], sp.warm_users[1]])
    got = user_vectors(model, sp.data, users, batch_size=2)
    for row, u in zip(got, users, strict=True):
        seq = torch.from_numpy(sp.data.sequence(u)[-5:].astype(np.int64))
        batch = {"history": seq[None], "lengths": torch.tensor([len(seq)]),
                 "profile": torch.from_numpy(sp.data.profiles[[u]])}
        with torch.no_grad():
            want = model.user_representation(batch)[0].numpy()
        np.testing.assert_allclose(row, want, rtol=1e-5, atol=1e-6)
    other = sp.data.profiles.copy()
    other[users] = 0
    assert not np.allclose(user_vectors(model, sp.data, users, profiles=other), got)
    assert user_vectors(model, sp.data, users[:0]).shape == (0, 8)
