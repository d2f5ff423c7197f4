"""Screening a patient: schema, determinism, verdict order, assessability, resume, refusals."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vexscreen.exceptions import InputError
from vexscreen.screen import DISCLAIMER, scan_patient

TOP_KEYS = ["format", "version", "vexscreen_version", "patient", "probability", "interval", "verdict",
            "statement", "cell_types", "reference", "measurements", "cells", "gallery", "ignored", "model",
            "disclaimer", "applicability"]
CELL_KEYS = ["image", "cell_type", "score", "vacuole_count", "vacuole_area_um2", "nucleus_lobes", "quality"]


def test_schema(model, patients, tmp_path):
    d = model.screen(patients["pos"], tmp_path / "out").to_dict()
    assert list(d) == TOP_KEYS
    assert d["format"] == "vexscreen-screening" and d["version"] == 1 and d["disclaimer"] == DISCLAIMER
    assert d["patient"] == "P-pos"
    assert set(d["cell_types"]) == {"PN", "MO"}
    for ct, n in (("PN", 12), ("MO", 10)):
        r = d["cell_types"][ct]
        assert list(r) == ["n_cells", "probability", "interval", "assessable", "note"]
        assert r["n_cells"] == n and r["assessable"]
        assert r["interval"][0] <= r["probability"] <= r["interval"][1]
    assert d["interval"][0] <= d["probability"] <= d["interval"][1]
    assert d["probability"] == pytest.approx(np.mean([d["cell_types"][c]["probability"] for c in ("PN", "MO")]))
    assert len(d["cells"]) == 22 and all(list(c) == CELL_KEYS for c in d["cells"])
    assert d["cells"][0]["image"] == "neutrophil/c000.png" and d["cells"][12]["image"] == "Monocytes/c000.png"
    assert (tmp_path / "out" / "PN" / "encodings.npy").is_file()  # kept for a resumed run
    assert d["ignored"] == {"classes": {"eosinophil": 3}, "bad_files": []}
    ref = d["reference"]
    assert ref["classes"] == ["UBA1-WT", "VEXAS"] and set(ref["scores"]) == {"UBA1-WT", "VEXAS"}
    assert sum(map(len, ref["scores"].values())) == 6
    assert {"auc", "p_value"} <= set(ref["patient_level"])
    assert d["model"]["positive"] == "VEXAS" and d["model"]["uses"] == ["encodings"]
    assert d["model"]["min_cells"] == {"PN": 8, "MO": 8} and len(d["model"]["sha256"]) == 64
    assert d["measurements"] == []
    json.dumps(d, allow_nan=False)  # JSON-ready, no NaN


def test_statement_and_verdict(model, patients, tmp_path):
    r = model.screen(patients["pos"], tmp_path / "o")
    assert r.verdict in ("VEXAS-like", "not VEXAS-like")
    assert r.verdict == ("VEXAS-like" if r.probability >= 0.5 else "not VEXAS-like")
    lo, hi = r.interval
    assert r.statement == (f"{r.verdict}: {r.probability:.2f} [{lo:.2f}-{hi:.2f}] "
                           "from 12 neutrophils and 10 monocytes")


def test_positive_patient_scores_above_negative(model, patients, tmp_path):
    pos = model.screen(patients["pos"], tmp_path / "pos")
    neg = model.screen(patients["neg"], tmp_path / "neg")
    assert pos.probability > neg.probability
    assert pos.verdict == "VEXAS-like" and neg.verdict == "not VEXAS-like"
    for ct in ("PN", "MO"):
        assert pos.cell_types[ct].probability > neg.cell_types[ct].probability


def test_deterministic_and_resumed(model, patients, tmp_path):
    a = model.screen(patients["neg"], tmp_path / "a").to_dict()
    enc = tmp_path / "a" / "PN" / "encodings.npy"
    mtime = enc.stat().st_mtime_ns
    again = model.screen(patients["neg"], tmp_path / "a").to_dict()  # resumes: encodings kept
    assert enc.stat().st_mtime_ns == mtime
    fresh = model.screen(patients["neg"]).to_dict()  # temporary folder, encoded anew
    assert a == again == fresh


def test_gallery(model, patients, tmp_path):
    d = model.screen(patients["pos"], tmp_path / "o").to_dict()
    scores = [c["score"] for c in d["cells"]]
    top, bottom = d["gallery"]["top"], d["gallery"]["bottom"]
    assert len(top) == 22 and bottom == []  # 22 cells: all in the top 24, none left for the bottom
    assert [scores[i] for i in top] == sorted(scores, reverse=True)
    d = model.screen(patients["neg"], tmp_path / "n").to_dict()
    assert len(d["gallery"]["top"]) == 22


def test_gallery_split_on_many_cells():
    from vexscreen.screen.assemble import gallery

    rng = np.random.default_rng(0)
    cells = [{"cell_type": "PN" if i % 3 else "LY", "score": float(s)} for i, s in enumerate(rng.random(60))]
    g = gallery(cells, ["PN"])
    pn = [i for i, c in enumerate(cells) if c["cell_type"] == "PN"]
    by_score = sorted(pn, key=lambda i: -cells[i]["score"])
    assert g["top"] == by_score[:24] and g["bottom"] == by_score[::-1][:12]
    assert not set(g["top"]) & set(g["bottom"])


def test_too_few_cells_of_one_type(model, patients, tmp_path):
    r = model.screen(patients["few"], tmp_path / "o")
    assert r.cell_types["MO"].n_cells == 3 and not r.cell_types["MO"].assessable
    assert r.cell_types["MO"].probability is None and r.cell_types["MO"].interval is None
    assert "fewer than the 8 the model needs" in r.cell_types["MO"].note
    assert r.cell_types["PN"].assessable and r.probability == r.cell_types["PN"].probability
    assert r.statement.endswith("from 12 neutrophils; 3 monocytes not counted, fewer than the 8 the model needs")
    mo = {i for i, c in enumerate(r.cells) if c["cell_type"] == "MO"}
    assert len(mo) == 3 and not mo & set(r.gallery["top"] + r.gallery["bottom"])


def test_indeterminate(model, tmp_path, draw):
    folder = tmp_path / "P-tiny"
    draw(folder / "neutrophil", 5, True, 7)
    draw(folder / "lymphocyte", 9, True, 8)
    r = model.screen(folder, tmp_path / "o")
    assert r.probability is None and r.interval is None and r.verdict == "indeterminate"
    assert r.statement == ("indeterminate: 5 neutrophils and no monocytes, fewer than the 8 the model "
                           "needs per cell type")
    assert r.ignored["classes"] == {"lymphocyte": 9}
    assert len(r.cells) == 5 and len(r.gallery["top"]) == 5  # shown, though not counted
    only_ly = tmp_path / "P-ly"
    draw(only_ly / "lymphocyte", 9, True, 9)
    r = model.screen(only_ly)
    assert r.statement == "indeterminate: no neutrophils or monocytes found"


def test_scan_object_and_corrupt_files(model, patients, tmp_path):
    folder = tmp_path / "P-bad"
    shutil.copytree(patients["pos"], folder)
    (folder / "neutrophil" / "c003.png").write_bytes(b"not an image")
    r = model.screen(scan_patient(folder), tmp_path / "o")
    assert r.cell_types["PN"].n_cells == 11
    assert r.ignored["bad_files"] == [{"path": "neutrophil/c003.png",
                                       "reason": "not an image (no known image format in the file content)"}]
    assert "neutrophil/c003.png" not in {c["image"] for c in r.cells}


def test_encodings_by_another_encoder_refused(model, patients, tmp_path):
    out = tmp_path / "o"
    model.screen(patients["pos"], out)
    done = out / "PN" / "encode.json"
    info = json.loads(done.read_text())
    info["encoder_sha256"] = "0" * 64
    done.write_text(json.dumps(info))
    with pytest.raises(InputError, match=r"encode\.json: encodings made by another encoder"):
        model.screen(patients["pos"], out)
    info = json.loads(done.read_text())
    side = model.encoders_["PN"]["settings"]["input_size"]
    info.update(encoder_sha256=model.encoders_["PN"]["sha256"], full_size=48)
    done.write_text(json.dumps(info))
    with pytest.raises(InputError, match=rf"other encoder settings \(full_size: 48 vs the model's {side}\)"):
        model.screen(patients["pos"], out)


def test_padded_to_the_reference_side(model, reference, patients, tmp_path):
    """Images are padded to the side the reference set was padded to, not to the patient's largest."""
    ref = json.loads((reference["enc"] / "PN" / "encode.json").read_text())
    model.screen(patients["neg"], tmp_path / "o")
    mine = json.loads((tmp_path / "o" / "PN" / "encode.json").read_text())
    largest = max(max(r.width, r.height) for r in scan_patient(patients["neg"]).images["PN"])
    assert ref["oversize"] == "pad" and ref["input_size"] > 64
    assert mine["input_size"] == ref["input_size"] and mine["full_size"] == ref["input_size"]
    assert largest <= ref["input_size"]


def test_model_without_encoder_cannot_encode(patients, tmp_path):
    from vexscreen.data.synthetic import simple_structure, synthetic_encodings
    from vexscreen.model import ReferenceModel

    enc = synthetic_encodings(simple_structure({"UBA1-WT": 2, "VEXAS": 2}, 1, 12), dim=8, seed=0)
    model = ReferenceModel(cell_types=("PN",), n_aggregates=10, min_cells=5).fit({"PN": enc})
    with pytest.raises(InputError, match="carries no encoder for PN"):
        model.screen(patients["pos"])


def test_interval_holds_the_estimate():
    """The percentile interval is widened to hold the estimate when a skewed bootstrap leaves it out."""
    from vexscreen.screen.assemble import _interval

    reps = np.linspace(0.32, 0.45, 41)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert _interval(reps, 0.95, 0.38) == [pytest.approx(lo), pytest.approx(hi)]
    assert _interval(reps, 0.95, 0.30) == [0.30, pytest.approx(hi)]
    assert _interval(reps, 0.95, 0.50) == [pytest.approx(lo), 0.50]


def test_cells_of_an_encodings_only_model_have_quality_ok(model, patients, tmp_path):
    """Not measured: measurement fields null, quality "ok" (decoded by the scanner), as the schema reads it."""
    cells = model.screen(patients["neg"], tmp_path / "neg").to_dict()["cells"]
    assert cells and all(c["quality"] == "ok" and c["vacuole_count"] is None and c["nucleus_lobes"] is None
                         for c in cells)


def test_applicability_of_patients_like_and_unlike_the_reference(model, patients, foreign_patient, tmp_path):
    """Cells like the reference's are not flagged; the same cells with the stain's colours
    swapped (another lab's stain, an untrained encoder's features) are further from the
    reference than every reference patient: flagged, and the statement says so."""
    like = model.screen(patients["neg"], tmp_path / "neg")
    fit = like.applicability
    assert fit["n_reference"] == 6 and set(fit["cell_types"]) == {"PN", "MO"} and not fit["flagged"]
    assert fit["distance"] == max(fit["cell_types"].values()) and fit["furthest"] == []  # no measurements
    assert "unlike" not in like.statement
    unlike = model.screen(foreign_patient, tmp_path / "other")
    fit = unlike.applicability
    assert fit["flagged"] and fit["p_value"] == pytest.approx(1 / 7)
    assert fit["distance"] > fit["reference_range"][1]
    assert "; cells unlike the reference patients' (distance" in unlike.statement
    assert unlike.to_dict()["applicability"] == fit


def test_a_model_without_the_check_screens_as_before(model, patients, tmp_path):
    import copy

    older = copy.copy(model)
    older.applicability_ = None
    r = model.screen(patients["pos"], tmp_path / "a")
    o = older.screen(patients["pos"], tmp_path / "b")
    assert o.applicability is None and o.probability == r.probability
    assert "unlike" not in o.statement


def test_weighted_combiner_screens_with_the_reference_weights(reference, patients, tmp_path):
    from vexscreen.model import ReferenceModel
    from vexscreen.report.screening import render_patient_report

    fitted = ReferenceModel(classes=("UBA1-WT", "VEXAS"), cell_types=("PN", "MO"), combiner="weighted",
                            n_aggregates=20, min_cells=8, n_bootstrap=16)
    fitted.fit({ct: reference["enc"] / ct for ct in ("PN", "MO")})
    model = ReferenceModel.load(fitted.save(tmp_path / "model"))
    w = model.reference_["patient_level"]["weights"]
    assert set(w) == {"PN", "MO"} and all(0.0 <= v <= 1.0 for v in w.values()) and sum(w.values()) > 0
    r = model.screen(patients["pos"], tmp_path / "pos")
    p = {ct: c.probability for ct, c in r.cell_types.items()}
    assert r.probability == pytest.approx((w["PN"] * p["PN"] + w["MO"] * p["MO"]) / (w["PN"] + w["MO"]))
    assert r.interval[0] <= r.probability <= r.interval[1]
    d = r.to_dict()
    assert d["reference"]["patient_level"]["combiner"] == "weighted" and d["reference"]["patient_level"]["weights"] == w
    page = render_patient_report(d, tmp_path / "report", r.image_root).read_text()
    assert "evidence on the reference patients, max(0, 2 AUC - 1)" in page
    assert f"neutrophils {w['PN']:.2f}" in page
