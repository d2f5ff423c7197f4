"""Encoding on several processes (Lightning Trainer.predict + the memmap prediction writer): the rows of a
2-process DDP run (gloo, two real CPU processes) are those of the 1-process run, in the same order."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch.distributed as dist

from vexscreen.data.scan import scan_images
from vexscreen.encoder.inference import encode_scan

from .conftest import write_images
from .test_inference import encoder_pt  # noqa: F401  (the fixture: a seeded ResNet18 encoder.pt)


def _encode_cli(args, tmp_path):
    # a real command line: Lightning's DDP launcher starts rank 1 by re-running it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "vexscreen.cli", "encode", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_processes_give_the_rows_of_one(tmp_path, encoder_pt):
    images = tmp_path / "labeled"
    write_images([images / g / f"{g}_p{p}" / "s0" / f"c{c}.png"
                  for g in ("MDS", "VEXAS") for p in range(2) for c in range(3)], seed=2)  # 12 images
    common = ["--encoder", str(encoder_pt), "--images", str(images), "--batch-size", "2", "--workers", "0",
              "--no-progress"]
    one = _encode_cli(common + ["--out", str(tmp_path / "one")], tmp_path)
    assert one.returncode == 0, one.stderr
    # 12 images over 2 ranks: rank 0 gets images 0, 2, 4, ..., rank 1 the odd ones, in batches of 2
    two = _encode_cli(common + ["--out", str(tmp_path / "two"), "--accelerator", "cpu", "--devices", "2",
                                "--strategy", "ddp"], tmp_path)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("encoded 12 images") == 1  # rank 0 reports, rank 1 is silent
    X1, X2 = (np.load(tmp_path / d / "encodings.npy") for d in ("one", "two"))
    assert X1.shape == X2.shape == (12, 512)
    np.testing.assert_array_equal(X1, X2)
    assert len({row.tobytes() for row in X1}) == 12  # distinct rows: the order is really checked
    m1, m2 = (pd.read_csv(tmp_path / d / "metadata.csv") for d in ("one", "two"))
    pd.testing.assert_frame_equal(m1, m2)
    summary = json.loads((tmp_path / "two" / "encode.json").read_text())
    assert summary["devices"] == {"accelerator": "cpu", "devices": 2, "num_nodes": 1, "strategy": "ddp"}
    assert not [p.name for p in (tmp_path / "two").iterdir() if p.name.startswith(".")]  # no temp file left


def test_lightning_path_in_one_process_matches_the_plain_loop(tmp_path, encoder_pt, flat_dir):
    """``devices=1`` through Trainer.predict and the writer: the same rows as the default loop."""
    scan = scan_images(flat_dir, progress=False)
    plain = encode_scan(encoder_pt, scan, tmp_path / "plain", batch_size=3, workers=0)
    calls = []
    lit = encode_scan(encoder_pt, scan, tmp_path / "lit", batch_size=3, workers=0, accelerator="cpu", devices=1,
                      progress=lambda desc, done, total: calls.append((done, total)))
    assert plain["is_global_zero"] and lit["is_global_zero"] and lit["devices"]["devices"] == 1
    np.testing.assert_allclose(np.load(tmp_path / "lit" / "encodings.npy"),
                               np.load(tmp_path / "plain" / "encodings.npy"), rtol=1e-5, atol=1e-6)
    assert calls == [(3, 8), (6, 8), (8, 8)]
