"""train-encoder as a user runs it: Lightning's start-up chatter only with --verbose, no bar
updates in a log, and every skipped file named (output and RUN/config.json)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from vexscreen.cli import main

TRAIN = ["--epochs", "1", "--batch-size", "4", "--crop", "32", "--full-size", "48", "--workers", "0"]
CHATTER = ("GPU available", "TPU available", "Tip", "litlogger", "max_epochs=1")


def test_a_log_gets_no_chatter_no_bars_and_the_skipped_file_named(flat_images, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
           "VEXSCREEN_LOG_EVERY": "0"}  # a line per epoch however quick (by default: a stage of >= 15 s)
    r = subprocess.run([sys.executable, "-m", "vexscreen.cli", "train-encoder", "--images", str(flat_images),
                        "--out", str(run), *TRAIN], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert not [word for word in CHATTER if word in r.stderr], r.stderr
    assert "\r" not in r.stderr and "it/s" not in r.stderr  # a log line per epoch, not a bar
    assert r.stderr.splitlines() == ["train-encoder: 1/1 epoch"]
    assert "on 8 images (1 unreadable or misplaced file(s) skipped" in r.stdout
    assert "  broken.png: not an image" in r.stdout
    record = json.loads((run / "config.json").read_text())
    assert [b["path"] for b in record["bad_files"]] == ["broken.png"]
    assert record["n_images"] == 8


def test_verbose_shows_lightning_start_up(flat_images, tmp_path, capfd):
    assert main(["train-encoder", "--images", str(flat_images), "--out", str(tmp_path / "run"), *TRAIN,
                 "--verbose", "--no-progress"]) == 0
    err = capfd.readouterr().err
    assert "GPU available" in err and "TPU available" in err
    assert "train-encoder: 1/1" not in err  # --no-progress


def test_strict_and_layout_reach_the_scan(flat_images, tmp_path, capsys):
    assert main(["train-encoder", "--images", str(flat_images), "--out", str(tmp_path / "a"), *TRAIN,
                 "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vexscreen train-encoder: error: ") and "--strict" in err
    assert main(["train-encoder", "--images", str(flat_images), "--out", str(tmp_path / "b"), *TRAIN,
                 "--layout", "labeled"]) == 2  # every image at the wrong depth for this layout
    assert "labeled layout" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
