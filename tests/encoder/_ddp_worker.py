"""One DDP rank for test_ddp_queue.py, run as its own process (no fork after OpenMP threads exist)."""
import os
import sys

import vexscreen  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch loads)

import torch
import torch.distributed as dist

# the encoder package imports its modules lazily: this loads losses.py and torch only
from vexscreen.encoder.losses import NNCLRLoss  # noqa: E402

rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
torch.set_num_threads(1)
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
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
