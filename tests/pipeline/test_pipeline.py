"""The image pipeline end to end on a tiny phantom: every stage runs and writes its outputs.

Mechanics only (a few dozen cells, one short epoch): what the pipeline finds at a
real scale is measured by bench/phantom_proof.py and reported in the README.
"""
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from vexscreen.exceptions import InputError
from vexscreen.data import file_sha256
from vexscreen.encoder.config import TrainConfig
from vexscreen.phantom import make_cohort
from vexscreen.phantom.recovery import FEATURES
from vexscreen.pipeline import encode_folder, run_image_pipeline
from vexscreen.report import format_pipeline_result, matrix_to_json
from vexscreen.study import ENCODER_TEST_GROUPS


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
    # 4 comparisons for each of the 3 cell types; each row is its evaluation file, both patient-level
    # figures included
    assert len(r["rows"]) == 12
    for row in r["rows"]:
        groups = {"VEXAS vs UBA1-WT": "UBA1-WT_VEXAS", "VEXAS vs MDS": "MDS_VEXAS",
                  "UBA1-WT vs MDS": "MDS_UBA1-WT", "VEXAS vs MDS+UBA1-WT": "MDS_UBA1-WT_VEXAS"}[row["comparison"]]
        ev = json.loads((out / "evaluation" / f"evaluation_{row['cell_type']}_{groups}.json").read_text())
        assert row["auc"] == ev["aggregate_level"]["auc"]["mean"]
        assert (row["auc_low"], row["auc_high"]) == (ev["aggregate_level"]["auc"]["low"],
                                                     ev["aggregate_level"]["auc"]["high"])
        assert row["pair_auc"] == ev["patient_level"]["leave_pair_out_auc"] is not None
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == r["rows"]
    assert [row["comparison"] for row in summary["rows"]][:4] == [
        "VEXAS vs UBA1-WT", "VEXAS vs MDS", "UBA1-WT vs MDS", "VEXAS vs MDS+UBA1-WT"]
    # Step 2a on the encoder-test cells: the study's group order, upper triangle only, one writer's files
    assert set(r["consistency"]) == {"PN", "MO", "LY"}
    for ct, (order, M) in r["consistency"].items():
        assert order == list(ENCODER_TEST_GROUPS[ct])
        upper = np.triu(np.ones(M.shape, bool), 1)
        assert np.isfinite(M[upper]).all() and np.isnan(M[~upper]).all()
        assert json.loads((out / "consistency" / f"consistency_{ct}.json").read_text()) == \
            summary["consistency"][ct] == {"groups": order, "auc": matrix_to_json(M)}
        csv = pd.read_csv(out / "consistency" / f"consistency_{ct}.csv")
        np.testing.assert_array_equal(csv[order].to_numpy(), M)
    # feature recovery ran on the phantom's truth (a row per drawn feature)
    assert {(p["cell_type"], p["feature"]) for p in r["feature_recovery"]} == {
        (ct, name) for ct, feats in FEATURES.items() for name, *_ in feats}
    assert summary["feature_recovery"] == r["feature_recovery"]
    text = format_pipeline_result(r)
    assert "0.87 [0.75-0.95]" in text  # the published figure beside ours
    assert "[phantom encoder test, LY]" in text and "feature recovery" in text

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
