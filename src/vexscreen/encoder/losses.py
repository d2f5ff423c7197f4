"""Contrastive losses.

``NNCLRLoss``: the study's loss (METHOD.md Step 1, the Keras NNCLR example).
  * queue size 0 (the study's setting): L2-normalise p1, p2; logits = p1 p2^T / t;
    mean of the cross-entropies of the rows of p1 p2^T and of p2 p1^T against
    targets 0..B-1.
  * queue size Q > 0: each projection is replaced, with a straight-through
    gradient (``p + stop_grad(nn(p) - p)``), by its nearest neighbour (largest
    dot product) in a FIFO queue of past normalised p1; the four terms
    nn(p1) p2^T, p2 nn(p1)^T, nn(p2) p1^T, p1 nn(p2)^T are averaged; then the
    queue is updated with p1 (newest first, oldest dropped).

Why not lightly's parts (checked against lightly 1.6.0's source):
  * ``NTXentLoss`` with no memory bank is SimCLR's NT-Xent: its logits also
    hold the same-view similarities (p1 p1^T, p2 p2^T), so it is *not* the
    study's loss. It is used, unchanged, for ``--method simclr``
    (``gather_distributed=True``: negatives from every DDP rank).
  * ``NNMemoryBankModule`` is not a FIFO: when the pointer wraps, the part of
    the batch that does not fit is dropped; its buffer is non-persistent (lost
    on resume); and its constructor does not forward ``gather_distributed``,
    so under DDP every rank would keep a different bank. Hence the queue here:
    a persistent buffer (saved in checkpoints, so ``--resume`` continues with
    the same queue), initialised from a fixed seed (identical on every rank),
    updated with p1 gathered from all ranks in rank order (identical on every
    rank after each step).
  * The gathering is lightly's (``lightly.utils.dist.gather``, as its own
    losses use), not ``LightningModule.all_gather``: the loss stays a plain
    ``nn.Module`` that needs no Lightning module to reach the other ranks
    (tests/encoder/test_ddp_queue.py runs it in two bare gloo processes).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from lightly.utils import dist
from torch import nn

from .names import METHODS  # noqa: F401  (re-exported)


class NNCLRLoss(nn.Module):
    def __init__(self, temperature: float = 0.07, queue_size: int = 0, dim: int = 128, seed: int = 43):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if queue_size < 0:
            raise ValueError(f"queue size must be >= 0, got {queue_size}")
        self.temperature = float(temperature)
        self.queue_size = int(queue_size)
        g = torch.Generator().manual_seed(seed)
        queue = F.normalize(torch.randn(self.queue_size, dim, generator=g), dim=1)
        self.register_buffer("queue", queue)  # persistent: part of checkpoints

    def nearest_neighbour(self, p: torch.Tensor) -> torch.Tensor:
        queue = self.queue.to(p.dtype)
        nn_p = queue[torch.argmax(p @ queue.T, dim=1)]
        return p + (nn_p - p).detach()

    @torch.no_grad()
    def update_queue(self, p1: torch.Tensor) -> None:
        new = p1.detach().to(self.queue.dtype).contiguous()
        if dist.world_size() > 1:  # every rank's p1, in rank order: the same queue on every rank
            new = torch.cat(dist.gather(new), 0)
        new = new[: self.queue_size]
        self.queue.copy_(torch.cat([new, self.queue[: self.queue_size - len(new)]], 0))

    def forward(self, z1: torch.Tensor, z2: torch.Tensor, update: bool = True) -> torch.Tensor:
        p1, p2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        labels = torch.arange(len(p1), device=p1.device)
        t = self.temperature
        if self.queue_size == 0:
            return 0.5 * (F.cross_entropy(p1 @ p2.T / t, labels) + F.cross_entropy(p2 @ p1.T / t, labels))
        n1, n2 = self.nearest_neighbour(p1), self.nearest_neighbour(p2)
        logits = torch.cat([n1 @ p2.T, p2 @ n1.T, n2 @ p1.T, p1 @ n2.T], 0) / t
        loss = F.cross_entropy(logits, labels.repeat(4))
        if update:
            self.update_queue(p1)
        return loss


class DenseLoss(nn.Module):
    """DenseCL's dense term (Wang et al., CVPR 2021), as in lightly's DenseCL example but
    without a momentum encoder: each location of one view's last feature map is paired
    with the most similar location (cosine of backbone features) of the other view's map;
    NT-Xent (lightly's ``NTXentLoss``) over the projected locations of the whole batch,
    every other location (of the same cell and of the others) a negative; both directions
    averaged. Why: an instance loss on globally pooled features can be solved by the
    nucleus alone; this term asks every region of the cell (a vacuole's, say) for its own
    description.

    Inputs: backbone features ``f1``, ``f2`` (B x N x C, N locations) and their
    projections ``q1``, ``q2`` (B x N x D).
    """

    def __init__(self, temperature: float = 0.07):
        super().__init__()
        from lightly.loss import NTXentLoss

        self.ntxent = NTXentLoss(temperature=temperature, gather_distributed=True)

    def forward(self, f1, f2, q1, q2) -> torch.Tensor:
        from lightly.models.utils import select_most_similar

        if f1.shape != f2.shape:
            raise ValueError(f"dense views must have the same feature-map shape, got {tuple(f1.shape)} "
                             f"and {tuple(f2.shape)}")
        k2 = select_most_similar(f1, f2, q2)   # for each location of view 1, its match in view 2
        k1 = select_most_similar(f2, f1, q1)
        return 0.5 * (self.ntxent(q1.flatten(0, 1), k2.flatten(0, 1))
                      + self.ntxent(q2.flatten(0, 1), k1.flatten(0, 1)))


def build_loss(method: str = "nnclr", temperature: float = 0.07, queue_size: int = 0, dim: int = 128,
               seed: int = 43) -> nn.Module:
    if method == "nnclr":
        return NNCLRLoss(temperature, queue_size, dim, seed)
    if method == "simclr":
        from lightly.loss import NTXentLoss
        return NTXentLoss(temperature=temperature, gather_distributed=True)
    raise ValueError(f"unknown method {method!r}; choose nnclr or simclr")

