"""Under DDP every rank keeps the same NNCLR queue: p1 gathered from all ranks, in rank order."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from vexscreen.encoder.losses import NNCLRLoss


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_queue_identical_across_ranks(tmp_path):
    # two real processes on the loopback address (gloo), as DDP runs them
    script = Path(__file__).with_name("_ddp_worker.py")
    port = str(_free_port())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, str(script), str(r), "2", port, str(tmp_path)], env=env)
             for r in (0, 1)]
    try:
        codes = [p.wait(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert torch.equal(r0["queue"], r1["queue"])
    # newest first: rank 0's p1 then rank 1's, then the oldest 4 of the seeded initial queue
    init = NNCLRLoss(queue_size=10, dim=4).queue
    assert torch.allclose(r0["queue"][:3], r0["p1"]) and torch.allclose(r0["queue"][3:6], r1["p1"])
    assert torch.allclose(r0["queue"][6:], init[:4])
