"""The model folder: round trip, SHA-256 of every file, format version, trusted types only, safe replace."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vexscreen.data import file_sha256
from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.exceptions import InputError
from vexscreen.model import FORMAT, TRUSTED_TYPES, VERSION, ReferenceModel

STRUCTURE = simple_structure({"UBA1-WT": 3, "VEXAS": 3}, samples_per_patient=1, cells_per_sample=30)


@pytest.fixture(scope="module")
def fitted():
    cohort = {"PN": synthetic_encodings(STRUCTURE, dim=8, signal=2.0, seed=3),
              "MO": synthetic_encodings(STRUCTURE, dim=8, signal=2.0, seed=4)}
    return ReferenceModel(n_aggregates=20, min_cells=10, combiner="logit_mean").fit(cohort)


@pytest.fixture
def saved(fitted, tmp_path):
    return fitted.save(tmp_path / "model")


def test_round_trip(fitted, saved):
    doc = json.loads((saved / "model.json").read_text())
    assert doc["format"] == FORMAT and doc["version"] == VERSION and doc["vexscreen_version"] == "0.1.0"
    assert doc["classes"] == ["UBA1-WT", "VEXAS"] and doc["cell_types"] == ["PN", "MO"]
    assert doc["settings"]["combiner"] == "logit_mean" and doc["settings"]["min_cells"] == 10
    assert doc["files"] == {f"classifier-{ct}.skops": file_sha256(saved / f"classifier-{ct}.skops")
                            for ct in ("MO", "PN")}
    loaded = ReferenceModel.load(saved)
    assert loaded.get_params() == fitted.get_params()
    assert loaded.reference_ == json.loads(json.dumps(fitted.reference_))
    A = np.random.default_rng(1).normal(size=(50, 8)).astype(np.float32)
    for ct in ("PN", "MO"):
        np.testing.assert_array_equal(loaded.score_cells(ct, A), fitted.score_cells(ct, A))
    assert loaded.model_sha256_ == file_sha256(saved / "model.json")
    assert loaded.applicability_ == json.loads(json.dumps(fitted.applicability_))
    assert set(loaded.applicability_) == {"PN", "MO"} and len(loaded.applicability_["PN"]["loo"]) == 6


def test_statistic_saved_and_older_models_read_as_median(tmp_path):
    cohort = {"PN": synthetic_encodings(STRUCTURE, dim=8, signal=2.0, seed=3)}
    model = ReferenceModel(n_aggregates=20, min_cells=10, cell_types=("PN",), statistic="mean").fit(cohort)
    path = model.save(tmp_path / "model")
    assert ReferenceModel.load(path).statistic == "mean"
    doc = json.loads((path / "model.json").read_text())
    del doc["settings"]["statistic"]  # a model saved before the setting existed: the study's median
    (path / "model.json").write_text(json.dumps(doc))
    assert ReferenceModel.load(path).statistic == "median"


def test_a_model_saved_before_the_applicability_check_still_loads(saved):
    doc = json.loads((saved / "model.json").read_text())
    del doc["applicability"]
    (saved / "model.json").write_text(json.dumps(doc))
    assert ReferenceModel.load(saved).applicability_ is None


def test_tampered_file_refused(saved):
    f = saved / "classifier-MO.skops"
    data = bytearray(f.read_bytes())
    data[-100] ^= 1
    f.write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"{f}: SHA-256 mismatch"):
        ReferenceModel.load(saved)
    f.unlink()
    with pytest.raises(InputError, match=rf"{f}: model file missing"):
        ReferenceModel.load(saved)


def _edit(saved, **changes):
    doc = json.loads((saved / "model.json").read_text())
    doc.update(changes)
    (saved / "model.json").write_text(json.dumps(doc))


def test_unknown_version_refused(saved):
    _edit(saved, version=99)
    with pytest.raises(InputError, match=r"model\.json: model format version 99; this vexscreen \(0\.1\.0\) "
                                         r"reads version 1"):
        ReferenceModel.load(saved)
    _edit(saved, version=1, format="something-else")
    with pytest.raises(InputError, match="not a vexscreen model"):
        ReferenceModel.load(saved)


def test_file_names_cannot_leave_the_folder(saved):
    _edit(saved, files={"../outside.skops": "0" * 64})
    with pytest.raises(InputError, match="invalid file name"):
        ReferenceModel.load(saved)


def test_untrusted_type_refused(saved):
    """A classifier file holding a type outside the trusted list is refused before it is loaded."""
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    f = saved / "classifier-PN.skops"
    sio.dump(FunctionTransformer(func=print), f)
    doc = json.loads((saved / "model.json").read_text())
    doc["files"]["classifier-PN.skops"] = file_sha256(f)  # the SHA check alone would not catch it
    (saved / "model.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=rf"{f}: refused: untrusted type\(s\) builtins\.print"):
        ReferenceModel.load(saved)


def test_trusted_types_are_exactly_what_a_classifier_holds(saved):
    import skops.io as sio

    untrusted = set(sio.get_untrusted_types(file=saved / "classifier-PN.skops"))
    assert untrusted and untrusted <= set(TRUSTED_TYPES)


def test_not_a_model_folder(tmp_path, fitted):
    with pytest.raises(InputError, match="no such model folder"):
        ReferenceModel.load(tmp_path / "nothing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match=r"not a vexscreen model folder \(no model\.json\)"):
        ReferenceModel.load(tmp_path / "plain")
    (tmp_path / "plain" / "results.csv").write_text("x\n")
    with pytest.raises(InputError, match="not empty and is not a vexscreen model"):
        fitted.save(tmp_path / "plain")
    assert (tmp_path / "plain" / "results.csv").read_text() == "x\n"


def test_save_replaces_a_model(fitted, saved, tmp_path):
    (saved / "stale.txt").write_text("old")
    fitted.save(saved)
    assert not (saved / "stale.txt").exists()
    assert ReferenceModel.load(saved).reference_ == json.loads(json.dumps(fitted.reference_))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_encoder_copied_and_checked(tmp_path):
    """With encode.json naming an encoder file, the model carries a copy; its SHA is checked on load."""
    from vexscreen.data import save_encodings, write_json
    from vexscreen.model.files import encoder_file

    enc = synthetic_encodings(STRUCTURE, dim=8, signal=2.0, seed=5)
    fake = tmp_path / "encoder.pt"
    fake.write_bytes(b"weights")
    folder = save_encodings(tmp_path / "enc" / "PN", enc.X, enc.meta)
    write_json(folder / "encode.json", {"encoder": str(fake), "encoder_sha256": file_sha256(fake),
                                        "full_size": 272, "oversize": "pad", "scale": 1.0})
    model = ReferenceModel(cell_types=("PN",), n_aggregates=10, min_cells=10).fit({"PN": folder})
    out = model.save(tmp_path / "model")
    name = encoder_file(file_sha256(fake))
    assert (out / name).read_bytes() == b"weights"
    loaded = ReferenceModel.load(out)
    assert loaded.encoders_["PN"]["source"] == str(out / name)
    assert loaded.encoders_["PN"]["settings"]["full_size"] == 272
    doc = json.loads((out / "model.json").read_text())
    doc["encoders"]["PN"]["sha256"] = "f" * 64
    (out / "model.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="does not have the SHA-256 the model records"):
        ReferenceModel.load(out)
    shutil.rmtree(out)
