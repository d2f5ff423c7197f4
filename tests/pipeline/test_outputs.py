"""What a run leaves behind (issue 10.8): a folder that still works when moved, that others can
read, without the training checkpoints nobody looks at."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vexscreen.encoder.config import TrainConfig
from vexscreen.phantom import make_cohort
from vexscreen.pipeline import run_image_pipeline, unlabeled_pool
from vexscreen.report import figures


def _images(root: Path, n: int = 3) -> list[Path]:
    paths = [root / ct / "MDS" / "MDS[1]" / "s1" / f"c{i}.png" for ct in ("PN", "LY") for i in range(n)]
    for k, p in enumerate(paths):
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), k, np.uint8)).save(p)
    return paths


def test_the_unlabeled_pool_still_works_after_a_move(tmp_path):
    demo = tmp_path / "demo"
    images = _images(demo / "phantom")
    pool = unlabeled_pool([demo / "phantom" / "PN", demo / "phantom" / "LY"], demo / "pipeline" / "pool")
    links = sorted(pool.iterdir())
    assert len(links) == len(images) and all(p.is_symlink() for p in links)
    assert all(not os.path.isabs(os.readlink(p)) for p in links)  # relative: ../../phantom/...
    content = {p.name: p.read_bytes() for p in links}
    moved = tmp_path / "elsewhere" / "demo_moved"
    moved.parent.mkdir()
    shutil.move(demo, moved)
    after = sorted((moved / "pipeline" / "pool").iterdir())
    assert [p.name for p in after] == [p.name for p in links]
    assert all(p.exists() for p in after) and {p.name: p.read_bytes() for p in after} == content
    unlabeled_pool([moved / "phantom" / "PN", moved / "phantom" / "LY"], moved / "pipeline" / "pool")  # a re-run


def test_an_older_pool_with_absolute_links_is_repaired(tmp_path):
    demo = tmp_path / "demo"
    images = _images(demo / "phantom", n=2)
    pool = demo / "pool"
    pool.mkdir()
    gone = tmp_path / "old_place" / "c0.png"  # as an absolute link of an older version, broken by a move
    (pool / "PN__MDS__MDS[1]__s1__c0.png").symlink_to(gone)
    (pool / "PN__MDS__MDS[1]__s1__c1.png").write_bytes(b"put there by hand")
    unlabeled_pool([demo / "phantom" / "PN"], pool)
    assert (pool / "PN__MDS__MDS[1]__s1__c0.png").read_bytes() == images[0].read_bytes()
    assert not os.path.isabs(os.readlink(pool / "PN__MDS__MDS[1]__s1__c0.png"))
    assert (pool / "PN__MDS__MDS[1]__s1__c1.png").read_bytes() == b"put there by hand"  # left alone


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(root: Path) -> dict:
    """{kind: {mode: [paths]}} of everything under ``root`` (links themselves not followed)."""
    found = {"file": {}, "dir": {}}
    for p in [root, *root.rglob("*")]:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
        found[kind].setdefault(stat.S_IMODE(st.st_mode), []).append(str(p.relative_to(root)))
    return found


def test_a_small_run_is_readable_by_others_movable_and_without_checkpoints(tmp_path, umask_022, monkeypatch):
    def project(X, **kwargs):  # UMAP's first call compiles numba for minutes: a projection stands in
        Xc = np.asarray(X, float) - np.mean(X, axis=0)
        return Xc @ np.linalg.svd(Xc, full_matrices=False)[2][:2].T

    monkeypatch.setattr(figures, "_umap", project)
    demo = tmp_path / "demo"
    ph = make_cohort(demo / "phantom", cohort="small", scale=0.5, seed=1, cell_types=("LY",),
                     encoder_test_per_group=5, preview=True)
    cfg = TrainConfig(batch_size=8, lr=1e-3, epochs=1, scale=0.25, crop=64, field=72, full_size=96, workers=0)
    run_image_pipeline(ph, demo / "pipeline", cfg, cell_types=("LY",), comparisons=(("MDS", "VEXAS"),),
                       progress=False, encode_workers=0, plots=True, n_jobs=1,
                       evaluate_kwargs={"iterations": 2, "aggregates": 5})
    from vexscreen.encoder.training import train_encoder

    train_encoder(demo / "pipeline" / "pool", demo / "kept", cfg, progress=False, keep_checkpoints=True)
    modes = _modes(demo)
    assert set(modes["file"]) == {0o644}, {oct(m): p[:3] for m, p in modes["file"].items()}
    assert set(modes["dir"]) == {0o755}, {oct(m): p[:3] for m, p in modes["dir"].items()}
    written = modes["file"][0o644]
    for expected in ("phantom/preview/LY_VEXAS.png", "pipeline/evaluation/evaluation_LY_MDS_VEXAS_umap.png",
                     "pipeline/encoder/encoder.pt", "pipeline/summary.json", "kept/checkpoints/last.ckpt"):
        assert expected in written
    # what a user looks at is there; the finished run's checkpoints are not
    assert sorted(p.name for p in (demo / "pipeline" / "encoder").iterdir()) == \
        ["config.json", "encoder.pt", "metrics.csv"]
    # and the folder works where it is moved to
    moved = tmp_path / "moved"
    shutil.move(demo, moved)
    links = [p for p in moved.rglob("*") if p.is_symlink()]
    assert links and all(p.exists() for p in links)


def test_an_interrupted_training_is_resumed_not_taken_for_finished(tmp_path, monkeypatch):
    """encoder.pt is written at every best epoch: after an interrupted run it exists beside the
    checkpoint; the pipeline must resume the run, and reuse a finished one (no checkpoint left)."""
    import json
    from dataclasses import asdict

    from vexscreen import pipeline
    from vexscreen.encoder import training
    from vexscreen.encoder.config import TrainConfig

    cfg = TrainConfig(epochs=2, batch_size=4)
    run = tmp_path / "out" / "encoder"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (run / "encoder.pt").write_bytes(b"x")
    (run / "config.json").write_text(json.dumps({"train": asdict(cfg)}))
    (tmp_path / "images" / "PN").mkdir(parents=True)
    calls = []
    monkeypatch.setattr(training, "train_encoder", lambda pool, r, c, **kw: calls.append(kw) or {"ok": 1})
    path, info = pipeline._train(tmp_path / "images", tmp_path / "out", cfg, ["PN"], False)
    assert calls == [{"progress": False, "resume": True}] and info == {"ok": 1}
    (run / "checkpoints" / "last.ckpt").unlink()
    path, info = pipeline._train(tmp_path / "images", tmp_path / "out", cfg, ["PN"], False)
    assert len(calls) == 1 and info is None and path == run / "encoder.pt"
