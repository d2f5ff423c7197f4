"""Models on measurements (alone, or with encodings matched by image), with a stand-in measuring step."""
from __future__ import annotations

import functools

import numpy as np
import pytest

from vexscreen.exceptions import InputError
from vexscreen.model import ReferenceModel

SMALL = dict(n_aggregates=20, min_cells=8, n_bootstrap=16)
Z_COLUMNS = ["vacuole_count", "white_share", "mean_grey"]  # conftest.measure_like_morphology's


@pytest.fixture(scope="module")
def both_model(reference, tmp_path_factory):
    model = ReferenceModel(cell_types=("PN", "MO"), **SMALL)
    model.fit({ct: {"encodings": reference["enc"] / ct, "measurements": reference["meas"] / ct}
               for ct in ("PN", "MO")})
    return ReferenceModel.load(model.save(tmp_path_factory.mktemp("both") / "model"))


def test_blocks_joined_and_recorded(both_model, reference):
    assert both_model.uses == ["encodings", "measurements"]
    assert [b["kind"] for b in both_model.blocks_["PN"]] == ["encodings", "measurements"]
    assert both_model.blocks_["PN"][1]["dim"] == 3
    meas = both_model.measurements_["PN"]
    assert meas["settings"] == {"pixel_um": 0.1, "white": 240}
    ranges = meas["reference"]["vacuolated cells"]
    assert ranges["unit"] == "%"
    assert ranges["reference"]["VEXAS"][0] > ranges["reference"]["UBA1-WT"][1]  # planted: VEXAS vacuolated


def test_screen_with_both_blocks(both_model, patients, stand_in_measure, tmp_path):
    pos = both_model.screen(patients["pos"], tmp_path / "pos", measure_fn=stand_in_measure)
    neg = both_model.screen(patients["neg"], tmp_path / "neg", measure_fn=stand_in_measure)
    assert pos.probability > neg.probability
    assert (tmp_path / "pos" / "PN" / "measurements" / "measurements.csv").is_file()
    d = pos.to_dict()
    names = [m["name"] for m in d["measurements"]]
    assert "vacuolated neutrophils" in names and "vacuolated monocytes" in names
    vac = d["measurements"][names.index("vacuolated neutrophils")]
    assert vac["unit"] == "%" and set(vac["reference"]) == {"UBA1-WT", "VEXAS"}
    counts = [c["vacuole_count"] for c in d["cells"] if c["cell_type"] == "PN"]
    assert vac["patient"] == pytest.approx(100 * np.mean(np.array(counts) > 0))
    assert all(c["quality"] == "ok" and c["nucleus_lobes"] == 1 for c in d["cells"])
    again = both_model.screen(patients["pos"], tmp_path / "pos", measure_fn=stand_in_measure)
    assert again.to_dict() == d
    # the applicability check names the measurements furthest from the reference patients, by |z|
    far = d["applicability"]["furthest"]
    assert 1 <= len(far) <= 3 and [abs(m["z"]) for m in far] == sorted((abs(m["z"]) for m in far), reverse=True)
    m = far[0]
    ref = both_model.measurements_[m["cell_type"]]["reference"]
    noun = {"PN": "neutrophils", "MO": "monocytes"}[m["cell_type"]]
    label = {(f"vacuolated {noun}" if k == "vacuolated cells" else f"{noun}: {k}"): k for k in ref}
    xs = np.array(list(ref[label[m["name"]]]["patients"].values()))
    assert m["z"] == pytest.approx((m["patient"] - xs.mean()) / xs.std(ddof=1))
    assert m["reference"] == [xs.min(), xs.max()]


def test_measurements_only(reference, patients, stand_in_measure, tmp_path):
    model = ReferenceModel(cell_types=("PN",), **SMALL).fit({"PN": {"measurements": reference["meas"] / "PN"}})
    assert model.uses == ["measurements"] and model.encoders_["PN"] is None
    model = ReferenceModel.load(model.save(tmp_path / "m"))
    assert not any(p.suffix == ".pt" for p in (tmp_path / "m").iterdir())
    pos = model.screen(patients["pos"], tmp_path / "pos", measure_fn=stand_in_measure)
    neg = model.screen(patients["neg"], tmp_path / "neg", measure_fn=stand_in_measure)
    assert pos.probability > neg.probability
    assert not (tmp_path / "pos" / "PN" / "encodings.npy").exists()  # nothing encoded


def test_measurement_settings_must_match(both_model, patients, stand_in_measure, tmp_path):
    other = functools.partial(stand_in_measure, pixel_um=0.2)
    with pytest.raises(InputError, match=r"measure.*settings differ from the model's.*pixel_um is 0\.2, "
                                         r"the model's 0\.1"):
        both_model.screen(patients["pos"], tmp_path / "o", measure_fn=other)


def test_no_measuring_function(both_model, patients, tmp_path, monkeypatch):
    monkeypatch.setattr("vexscreen.screen.measuring.default_measure_fn", lambda: None)
    with pytest.raises(InputError, match="uses measurements, but no measuring function"):
        both_model.screen(patients["pos"], tmp_path / "o")


def test_blocks_matched_by_image(reference):
    """Rows of the measurement block in another order are matched by IMAGE, not by position."""
    from vexscreen.model.blocks import Block, join_blocks, load_block

    enc = load_block(reference["enc"] / "PN", "encodings")
    meas = load_block(reference["meas"] / "PN", "measurements")
    order = np.random.default_rng(0).permutation(len(meas.X))
    shuffled = Block("measurements", meas.X[order], meas.meta.iloc[order].reset_index(drop=True),
                     meas.folder, meas.provenance, meas.table.iloc[order].reset_index(drop=True))
    X1, meta1, table1, dropped1 = join_blocks([enc, meas])
    X2, meta2, table2, dropped2 = join_blocks([enc, shuffled])
    assert dropped1 == dropped2 == 0
    np.testing.assert_array_equal(X1, X2)
    assert table2["IMAGE"].tolist() == meta2["IMAGE"].tolist() == enc.meta["IMAGE"].tolist()
    np.testing.assert_allclose(np.linalg.norm(X1[:, :enc.dim], axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(X1[:, enc.dim:], axis=1), 1, rtol=1e-5)
    part = Block("measurements", meas.X[:-5], meas.meta.iloc[:-5], meas.folder, meas.provenance)
    X3, meta3, _, dropped3 = join_blocks([enc, part])
    assert dropped3 == 5 and len(X3) == len(enc.X) - 5


# ---------------------------------------------------------------- a producer that z-scores per scan
@pytest.fixture(scope="module")
def morph_model(reference, tmp_path_factory):
    """Measurements only, from a producer shaped like vexscreen.morphology.measure_scan."""
    model = ReferenceModel(cell_types=("PN",), **SMALL).fit({"PN": {"measurements": reference["morph"] / "PN"}})
    return ReferenceModel.load(model.save(tmp_path_factory.mktemp("morph") / "model"))


def test_reference_standardisation_kept(morph_model, reference):
    import json


    stats = morph_model.measurements_["PN"]["standardisation"]
    summary = json.loads((reference["morph"] / "PN" / "measure.json").read_text())
    assert stats["columns"] == Z_COLUMNS
    assert stats["mean"] == [summary["mean"][c] for c in Z_COLUMNS]
    assert stats["std"] == [summary["std"][c] for c in Z_COLUMNS]
    # what one run found (counts, means, speed) is not a setting: only version and pixel size are
    assert morph_model.measurements_["PN"]["settings"] == {"version": 1, "pixel_size_um": 0.1, "dim": 3,
                                                           "columns": Z_COLUMNS}


def test_patient_standardised_with_the_reference_means(morph_model, patients, morphology_measure, tmp_path):
    """A patient's own z-scores would centre them on their own mean (the patient-level signal gone):
    screening recomputes them from the raw values with the reference's means and sds."""
    import pandas as pd
    from sklearn.preprocessing import normalize

    from vexscreen.screen import cell_features, scan_patient

    scan = scan_patient(patients["pos"])
    X, images, table = cell_features(morph_model, "PN", scan, tmp_path / "PN", morphology_measure)
    stats = morph_model.measurements_["PN"]["standardisation"]
    raw = pd.read_csv(tmp_path / "PN" / "measurements" / "measurements.csv")
    assert raw["IMAGE"].tolist() == images
    ok = (raw["quality"] == "ok").to_numpy()
    want = np.zeros((len(raw), 3))
    want[ok] = (raw.loc[ok, Z_COLUMNS].to_numpy() - stats["mean"]) / np.asarray(stats["std"])
    np.testing.assert_allclose(X, normalize(want), rtol=1e-5, atol=1e-6)
    assert not ok[-1] and np.all(X[-1] == 0)  # a cell not measured carries no signal
    own = np.load(tmp_path / "PN" / "measurements" / "encodings.npy")
    assert np.abs(own[ok].mean(0)).max() < 1e-5 and np.abs(want[ok].mean(0)).max() > 0.3  # own: centred


def test_screen_with_a_per_scan_standardising_producer(morph_model, patients, morphology_measure, tmp_path):
    pos = morph_model.screen(patients["pos"], tmp_path / "pos", measure_fn=morphology_measure)
    neg = morph_model.screen(patients["neg"], tmp_path / "neg", measure_fn=morphology_measure)
    assert pos.probability > 0.5 > neg.probability
    other = functools.partial(morphology_measure, pixel_size_um=0.2)
    with pytest.raises(InputError, match=r"pixel_size_um is 0\.2, the model's 0\.1"):
        morph_model.screen(patients["pos"], tmp_path / "other", measure_fn=other)


def test_restandardise_needs_the_model_columns(reference):
    from vexscreen.model.blocks import load_block, restandardise

    block = load_block(reference["morph"] / "PN", "measurements")
    with pytest.raises(InputError, match="lacks column.*lobe_width"):
        restandardise(block, {"columns": ["vacuole_count", "lobe_width"], "mean": [0, 0], "std": [1, 1]})


# ---------------------------------------------------------------- stain-robust columns
def test_stain_dependent_columns():
    from vexscreen.model.blocks import stain_dependent

    assert [c for c in ("nucleus_od", "cytoplasm_od_red", "granularity", "vacuole_count", "cell_area_um2",
                        "nucleus_lobes", "odd_count", "cell_odd_shape") if stain_dependent(c)] == [
        "nucleus_od", "cytoplasm_od_red", "granularity"]


def test_select_columns(reference):
    from vexscreen.model.blocks import load_block, select_columns

    block = load_block(reference["morph"] / "PN", "measurements")
    same, names = select_columns(block, "all")
    assert same is block and names == Z_COLUMNS
    kept, names = select_columns(block, "stain_robust", ["vacuole_count", "nucleus_od", "granularity"])
    assert names == ["vacuole_count"] and np.array_equal(kept.X, block.X[:, :1])
    with pytest.raises(InputError, match="needs the measurement columns' names"):
        select_columns(block, "stain_robust", ["vacuole_count"])
    with pytest.raises(InputError, match="unknown measurement_columns 'some'"):
        select_columns(block, "some")


def test_stain_robust_model_leaves_the_stain_columns_out(reference, patients, morphology_measure, tmp_path,
                                                          monkeypatch):
    """The stand-in producer's `mean_grey` reads the stain here: the model's vector drops it at fit and
    at screening (after the reference standardisation), and the report's table keeps it."""
    import vexscreen.model.blocks as blocks
    from vexscreen.screen import cell_features, scan_patient

    monkeypatch.setattr(blocks, "stain_dependent", lambda c: c == "mean_grey")
    with pytest.raises(InputError, match="unknown measurement_columns"):
        ReferenceModel(cell_types=("PN",), measurement_columns="none", **SMALL).fit(
            {"PN": {"measurements": reference["morph"] / "PN"}})
    fitted = ReferenceModel(cell_types=("PN",), measurement_columns="stain_robust", **SMALL)
    fitted.fit({"PN": {"measurements": reference["morph"] / "PN"}})
    model = ReferenceModel.load(fitted.save(tmp_path / "model"))
    assert model.measurement_columns == "stain_robust" and model.blocks_["PN"][0]["dim"] == 2
    X, _, table = cell_features(model, "PN", scan_patient(patients["pos"]), tmp_path / "PN", morphology_measure)
    assert X.shape[1] == 2 and "mean_grey" in table.columns
    r = model.screen(patients["pos"], tmp_path / "pos", measure_fn=morphology_measure)
    assert r.probability is not None and any(m["name"] == "neutrophils: mean_grey" for m in r.measurements)
