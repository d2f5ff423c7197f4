"""encode names the files it skips (the first ten, then "... and N more") and records them all
in ENC/encode.json; the deprecated --device still works."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vexscreen.cli import main
from vexscreen.commands import BAD_FILES_SHOWN, bad_file_lines
from vexscreen.commands.encode import device_alias, torch_device


def test_skipped_files_are_named_and_recorded(flat_images, small_encoder, tmp_path, capsys):
    for i in range(11):  # 12 bad files with the fixture's broken.png
        (flat_images / f"zz_truncated{i:02d}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "enc"
    assert main(["encode", "--encoder", str(small_encoder), "--images", str(flat_images), "--out", str(out),
                 "--workers", "0", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"skipped 12 bad file(s) (listed in {out}/encode.json" in text
    named = [line for line in text.splitlines() if line.startswith("  ")]
    assert len(named) == BAD_FILES_SHOWN + 1 and named[-1] == "  ... and 2 more"
    assert named[0].startswith("  broken.png: not an image")
    summary = json.loads((out / "encode.json").read_text())
    assert [b["path"] for b in summary["bad_files"]] == ["broken.png"] + [f"zz_truncated{i:02d}.png" for i in range(11)]
    assert all(b["reason"] for b in summary["bad_files"])
    assert np.load(out / "encodings.npy").shape[0] == summary["images"] == 8


def test_a_clean_folder_records_no_bad_files(flat_images, small_encoder, tmp_path, capsys):
    (flat_images / "broken.png").unlink()
    assert main(["encode", "--encoder", str(small_encoder), "--images", str(flat_images), "--out",
                 str(tmp_path / "enc"), "--workers", "0", "--no-progress"]) == 0
    assert "skipped" not in capsys.readouterr().out
    assert json.loads((tmp_path / "enc" / "encode.json").read_text())["bad_files"] == []


def test_bad_file_lines():
    bad = [{"path": f"f{i}.png", "reason": "r"} for i in range(3)]
    assert bad_file_lines(bad, limit=2) == ["  f0.png: r", "  f1.png: r", "  ... and 1 more"]
    assert bad_file_lines(bad[:2], limit=2) == ["  f0.png: r", "  f1.png: r"]


def test_deprecated_device_maps_to_lightning_words(flat_images, small_encoder, tmp_path, capsys):
    assert device_alias("cuda:1") == ("gpu", "1,") and device_alias("cpu") == ("cpu", "auto")
    assert torch_device("gpu", "1,") == "cuda:1" and torch_device("cpu", "auto") == "cpu"
    assert main(["encode", "--encoder", str(small_encoder), "--images", str(flat_images), "--out",
                 str(tmp_path / "enc"), "--workers", "0", "--no-progress", "--device", "cpu"]) == 0
    assert "--device is deprecated: use --accelerator cpu" in capsys.readouterr().err


@pytest.mark.parametrize("accelerator, devices", [("tpu", "auto"), ("gpu", 2), ("cpu", "0,1")])
def test_encode_runs_on_one_device(accelerator, devices):
    from vexscreen.exceptions import InputError

    with pytest.raises(InputError):
        torch_device(accelerator, devices)
