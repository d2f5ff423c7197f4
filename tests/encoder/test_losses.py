"""The loss equals a direct computation of METHOD.md's formula (queue 0 and queue > 0)."""
import numpy as np
import pytest
import torch

from vexscreen.encoder.losses import NNCLRLoss, build_loss


def _norm(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _ce(logits):  # mean cross-entropy with targets 0..B-1
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(logp))


def _example(seed=0, b=5, d=7):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(b, d)), rng.normal(size=(b, d))


def test_queue_zero_matches_direct_formula():
    z1, z2 = _example()
    p1, p2 = _norm(z1), _norm(z2)
    t = 0.07
    expected = 0.5 * (_ce(p1 @ p2.T / t) + _ce(p2 @ p1.T / t))
    got = NNCLRLoss(temperature=t, queue_size=0, dim=7)(torch.tensor(z1), torch.tensor(z2))
    assert abs(float(got) - expected) < 1e-6 * max(1, expected)


def test_queue_positive_matches_direct_formula_and_updates_fifo():
    z1, z2 = _example(1, b=4, d=6)
    t, Q = 0.1, 10
    loss_fn = NNCLRLoss(temperature=t, queue_size=Q, dim=6).double()
    queue = loss_fn.queue.numpy().copy()
    p1, p2 = _norm(z1), _norm(z2)
    nn1 = queue[np.argmax(p1 @ queue.T, axis=1)]
    nn2 = queue[np.argmax(p2 @ queue.T, axis=1)]
    expected = np.mean([_ce(nn1 @ p2.T / t), _ce(p2 @ nn1.T / t), _ce(nn2 @ p1.T / t), _ce(p1 @ nn2.T / t)])
    zt1 = torch.tensor(z1, requires_grad=True)
    got = loss_fn(zt1, torch.tensor(z2))
    assert abs(float(got.detach()) - expected) < 1e-9 * max(1, expected)
    # FIFO: newest (normalised p1) first, the oldest Q-B entries kept in order
    assert np.allclose(loss_fn.queue.numpy()[:4], p1)
    assert np.allclose(loss_fn.queue.numpy()[4:], queue[:Q - 4])
    # straight-through: the gradient reaches the projections
    got.backward()
    assert zt1.grad is not None and torch.isfinite(zt1.grad).all() and zt1.grad.abs().sum() > 0


def test_queue_is_persistent_state():
    loss_fn = NNCLRLoss(queue_size=6, dim=4)
    assert "queue" in loss_fn.state_dict()
    assert torch.allclose(NNCLRLoss(queue_size=6, dim=4).queue, loss_fn.queue)  # same seed, same init


def test_simclr_is_nt_xent():
    z1, z2 = _example(2, b=3, d=5)
    t = 0.5
    p = _norm(np.concatenate([z1, z2]))
    sim = p @ p.T / t
    np.fill_diagonal(sim, -np.inf)
    n = len(z1)
    targets = np.r_[np.arange(n, 2 * n), np.arange(n)]
    logp = sim - np.log(np.exp(sim).sum(axis=1, keepdims=True))
    expected = -np.mean(logp[np.arange(2 * n), targets])
    got = build_loss("simclr", temperature=t)(torch.tensor(z1), torch.tensor(z2))
    assert abs(float(got) - expected) < 1e-6


def test_dense_loss_pairs_each_location_with_its_match():
    """DenseCL term: each location is paired with the most similar location of the other view, so
    shuffling the other view's locations (features and projections alike) changes nothing, while
    shuffling its projections alone does; same maps = NT-Xent of the locations in place."""
    from lightly.loss import NTXentLoss

    from vexscreen.encoder.losses import DenseLoss

    g = torch.Generator().manual_seed(0)
    f1 = torch.randn(3, 4, 16, generator=g)
    q1, q2 = torch.randn(3, 4, 8, generator=g), torch.randn(3, 4, 8, generator=g)
    loss = DenseLoss(temperature=0.5)
    same = loss(f1, f1.clone(), q1, q2)
    nt = NTXentLoss(temperature=0.5)
    direct = 0.5 * (nt(q1.flatten(0, 1), q2.flatten(0, 1)) + nt(q2.flatten(0, 1), q1.flatten(0, 1)))
    assert torch.allclose(same, direct, atol=1e-6)
    perm = torch.tensor([2, 0, 3, 1])
    assert torch.allclose(loss(f1, f1[:, perm], q1, q2[:, perm]), same, atol=1e-6)
    assert not torch.allclose(loss(f1, f1.clone(), q1, q2[:, perm]), same, atol=1e-3)
    with pytest.raises(ValueError, match="same feature-map shape"):
        loss(f1, f1[:, :3], q1, q2[:, :3])
