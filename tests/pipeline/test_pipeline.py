"""The image pipeline end to end on a tiny phantom: every stage runs and writes its outputs.

Mechanics only (a few dozen cells, one short epoch): what the pipeline finds at a
real scale is measured by bench/phantom_proof.py and reported in the README.
"""
import json
from dataclasses import replace

import numpy as np
import pytest

from vexscreen.exceptions import InputError
from vexscreen.data import file_sha256
from vexscreen.encoder.config import TrainConfig
from vexscreen.phantom import make_cohort
from vexscreen.pipeline import encode_folder, format_summary, run_image_pipeline


def test_phantom_to_summary(tmp_path):
    ph = make_cohort(tmp_path / "ph", cohort="small", scale=0.5, seed=1, workers=1,
                     encoder_test_per_group=5)
    # as the demo: views from the centred field, encode that field (90 px frames at scale 0.25)
    cfg = TrainConfig(batch_size=8, lr=1e-3, epochs=1, scale=0.25, crop=64, field=72, full_size=96, workers=0,
                      max_images=32, color_jitter=0.5)
    r = run_image_pipeline(ph, tmp_path / "run", cfg, progress=False, encode_workers=0,
                           evaluate_kwargs={"iterations": 2, "aggregates": 10})
    out = tmp_path / "run"
    assert (out / "encoder" / "encoder.pt").is_file()
    for ct in ("PN", "MO", "LY"):
        assert (out / "encodings" / ct / "encodings.npy").is_file()
        assert (out / "encodings" / f"encoder_test_{ct}" / "encoder_test_encodings.npy").is_file()
        enc = json.loads((out / "encodings" / ct / "encode.json").read_text())
        assert (enc["field"], enc["input_size"], enc["oversize"]) == (72, 72, "crop")
        assert "centred 72 x 72 field" in enc["treatment"]
    # 4 comparisons for each of the 3 cell types, each with both patient-level figures
    assert len(r["rows"]) == 12
    assert all(0 <= row["auc"] <= 1 and row["pair_auc"] is not None for row in r["rows"])
    summary = json.loads((out / "summary.json").read_text())
    assert [row["comparison"] for row in summary["rows"]][:4] == [
        "VEXAS vs UBA1-WT", "VEXAS vs MDS", "UBA1-WT vs MDS", "VEXAS vs MDS+UBA1-WT"]
    assert set(r["consistency"]) == {"PN", "MO", "LY"}
    # the morphology probe ran on the phantom's truth (a row per drawn feature)
    assert {(p["cell_type"], p["feature"]) for p in r["probe"]} >= {("PN", "vacuoles"), ("MO", "vacuoles")}
    assert "0.87 [0.75-0.95]" in format_summary(r["rows"])  # the published figure beside ours

    # a re-run with other settings does not silently evaluate the old encoder: it says what differs
    with pytest.raises(InputError, match=r"lr: 0\.001 -> 0\.01"):
        run_image_pipeline(ph, out, replace(cfg, lr=1e-2), progress=False, encode_workers=0)
    # a run made before a setting existed counts as having had its default: still reused
    saved = json.loads((out / "encoder" / "config.json").read_text())
    del saved["train"]["dense"]
    (out / "encoder" / "config.json").write_text(json.dumps(saved))
    from vexscreen.pipeline import check_same_training

    check_same_training(out / "encoder", cfg)
    with pytest.raises(InputError, match=r"dense: 0\.0 -> 0\.5"):
        check_same_training(out / "encoder", replace(cfg, dense=0.5))
    # encodings are reused only when written by this very encoder file
    pn = out / "encodings" / "PN"
    first = np.load(pn / "encodings.npy")
    assert json.loads((pn / "encode.json").read_text())["encoder_sha256"] == file_sha256(out / "encoder" / "encoder.pt")
    from vexscreen.encoder.training import save_untrained_encoder

    other = save_untrained_encoder(tmp_path / "other.pt", replace(cfg, seed=44))
    encode_folder(other, ph / "PN", pn, workers=0, progress=False)
    assert json.loads((pn / "encode.json").read_text())["encoder_sha256"] == file_sha256(other)
    assert not np.allclose(np.load(pn / "encodings.npy"), first)
    mtime = (pn / "encodings.npy").stat().st_mtime_ns
    encode_folder(other, ph / "PN", pn, workers=0, progress=False)  # same encoder: kept
    assert (pn / "encodings.npy").stat().st_mtime_ns == mtime
