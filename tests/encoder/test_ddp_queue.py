"""Under DDP every rank keeps the same NNCLR queue: p1 gathered from all ranks, in rank order."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vexscreen.encoder.losses import NNCLRLoss  # imported here: forked ranks inherit it


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.manual_seed(100 + rank)  # different data per rank, as in DDP
        loss_fn = NNCLRLoss(queue_size=10, dim=4)
        z1, z2 = torch.randn(3, 4), torch.randn(3, 4)
        loss_fn(z1, z2)
        torch.save({"queue": loss_fn.queue, "p1": torch.nn.functional.normalize(z1, dim=1)},
                   os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_queue_identical_across_ranks(tmp_path):
    # fork: the children reuse the imported torch (spawn would re-import it: ~20 s more here)
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True, start_method="fork")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert torch.equal(r0["queue"], r1["queue"])
    # newest first: rank 0's p1 then rank 1's, then the oldest 4 of the seeded initial queue
    init = NNCLRLoss(queue_size=10, dim=4).queue
    assert torch.allclose(r0["queue"][:3], r0["p1"]) and torch.allclose(r0["queue"][3:6], r1["p1"])
    assert torch.allclose(r0["queue"][6:], init[:4])
