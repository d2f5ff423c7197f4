"""The commands: fit-model and screen, end to end; a batch survives a bad patient; bad models/outputs."""
from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest

from vexscreen.cli import main


@pytest.fixture(scope="module")
def cli_model(reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    code = main(["fit-model", "--encodings", str(reference["enc"]), "--groups", "UBA1-WT,VEXAS",
                 "--cell-types", "PN,MO", "--out", str(out), "--min-cells", "8", "--aggregates", "20",
                 "--bootstrap", "16"])
    assert code == 0
    return out


def test_fit_model_writes_the_folder(cli_model, model_dir, capsys):
    names = sorted(p.name for p in cli_model.iterdir())
    doc = json.loads((cli_model / "model.json").read_text())
    enc = doc["encoders"]["PN"]["file"]
    assert names == sorted(["model.json", "classifier-PN.skops", "classifier-MO.skops", enc])
    assert set(doc["files"]) == set(names) - {"model.json"}
    assert doc["encoders"]["PN"] == doc["encoders"]["MO"]  # one encoder file, carried once
    # same settings as the Python API's model: the same reference figures
    api = json.loads((model_dir / "model.json").read_text())
    assert doc["reference"] == api["reference"]


def test_screen_batch(cli_model, patients, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["screen", "--model", str(cli_model), str(patients["pos"]), str(tmp_path / "missing"),
                 str(patients["neg"]), "--out", str(out), "--no-progress"])
    assert code == 2  # one patient failed; the others were screened
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("P-pos: VEXAS-like: ")
    assert lines[1] == f"missing: error: {tmp_path / 'missing'}: no such patient folder"
    assert lines[2].startswith("P-neg: not VEXAS-like: ")
    summary = pd.read_csv(out / "summary.csv")
    assert summary["patient"].tolist() == ["P-pos", "missing", "P-neg"]
    assert summary["status"].tolist() == ["ok", "error", "ok"]
    for name in ("P-pos", "P-neg"):
        report = json.loads((out / name / "report.json").read_text())
        cells = pd.read_csv(out / name / "cells.csv")
        assert len(cells) == len(report["cells"]) == 22
        assert list(cells.columns) == ["image", "cell_type", "score", "vacuole_count", "vacuole_area_um2",
                                       "nucleus_lobes", "quality"]


def test_screen_says_how_many_patients_are_unlike_the_reference(cli_model, patients, foreign_patient, tmp_path,
                                                                capsys):
    out = tmp_path / "out"
    assert main(["screen", "--model", str(cli_model), str(patients["neg"]), str(foreign_patient),
                 "--out", str(out), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "unlike" not in lines[0] and "; cells unlike the reference patients' (distance" in lines[1]
    assert "screened 2 of 2 patient(s); 1 unlike the reference patients (their verdicts extrapolate)" in lines[2]
    summary = pd.read_csv(out / "summary.csv")
    assert summary["unlike_reference"].tolist() == [False, True]


def test_screen_class_map(cli_model, patients, tmp_path, capsys):
    folder = tmp_path / "P-map"
    shutil.copytree(patients["pos"], folder)
    (folder / "Monocytes").rename(folder / "mono_cells_x")
    cmap = tmp_path / "map.csv"
    cmap.write_text("mono cells x,MO\n")
    assert main(["screen", "--model", str(cli_model), str(folder), "--out", str(tmp_path / "o"),
                 "--no-progress", "--class-map", str(cmap)]) == 0
    report = json.loads((tmp_path / "o" / "P-map" / "report.json").read_text())
    assert report["cell_types"]["MO"]["n_cells"] == 10


def test_model_of_another_version(cli_model, patients, tmp_path, capsys):
    bad = tmp_path / "model"
    shutil.copytree(cli_model, bad)
    doc = json.loads((bad / "model.json").read_text())
    doc["version"] = 2
    (bad / "model.json").write_text(json.dumps(doc))
    assert main(["screen", "--model", str(bad), str(patients["pos"]), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"vexscreen screen: error: {bad / 'model.json'}: model format version 2; this vexscreen "
                   "(0.1.0) reads version 1")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output(cli_model, patients, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code = main(["screen", "--model", str(cli_model), str(patients["pos"]), "--out", str(ro / "out")])
    finally:
        ro.chmod(0o700)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vexscreen screen: error: {ro / 'out'}: output folder cannot be written (Permission denied)"]


def test_fit_model_input_errors(reference, tmp_path, capsys):
    out = str(tmp_path / "m")
    assert main(["fit-model", "--groups", "UBA1-WT,VEXAS", "--out", out]) == 2
    assert "give --encodings ENC_ROOT, --measurements MEAS_ROOT, or both" in capsys.readouterr().err
    assert main(["fit-model", "--encodings", str(reference["enc"]), "--groups", "UBA1-WT,VEXAS",
                 "--cell-types", "PN,LY", "--out", out]) == 2
    assert f"{reference['enc'] / 'LY'}: no LY folder" in capsys.readouterr().err
    assert main(["fit-model", "--encodings", str(reference["enc"]), "--groups", "MDS,VEXAS",
                 "--cell-types", "PN", "--out", out]) == 2
    assert "class(es) ['MDS'] not in the reference data" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["fit-model", "--encodings", str(reference["enc"]), "--groups", "UBA1-WT,VEXAS", "--out", out,
              "--min-cells", "0"])
    assert exc.value.code == 2


def test_fit_model_needs_the_encoder_file(reference, tmp_path, capsys):
    enc = tmp_path / "enc"
    shutil.copytree(reference["enc"], enc)
    info = json.loads((enc / "PN" / "encode.json").read_text())
    info["encoder"] = str(tmp_path / "gone.pt")
    (enc / "PN" / "encode.json").write_text(json.dumps(info))
    assert main(["fit-model", "--encodings", str(enc), "--groups", "UBA1-WT,VEXAS", "--cell-types", "PN",
                 "--out", str(tmp_path / "m")]) == 2
    assert "the encoder that made these encodings is not found" in capsys.readouterr().err


def test_output_path_blocked_by_a_file(cli_model, patients, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["screen", "--model", str(cli_model), str(patients["pos"]), "--out", str(blocker / "out")]) == 2
    assert capsys.readouterr().err.strip() == (f"vexscreen screen: error: {blocker / 'out'}: output folder "
                                               "cannot be written (Not a directory)")
    out = tmp_path / "out"
    out.mkdir()
    (out / "P-pos").write_text("a file where the patient's folder goes")
    code = main(["screen", "--model", str(cli_model), str(patients["pos"]), str(patients["neg"]),
                 "--out", str(out), "--no-progress"])
    assert code == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"P-pos: error: {out / 'P-pos'}: output folder cannot be written (File exists)"
    assert lines[1].startswith("P-neg: not VEXAS-like")


def test_help_lists_the_combiners_without_importing_them():
    from vexscreen.commands.fit_model import COMBINER_NAMES
    from vexscreen.model import COMBINERS

    assert COMBINER_NAMES == tuple(COMBINERS)


def test_fit_model_refuses_a_folder_that_is_not_a_model(reference, tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["fit-model", "--encodings", str(reference["enc"]), "--groups", "UBA1-WT,VEXAS",
                 "--out", str(out)]) == 2
    assert "is not empty and is not a vexscreen model" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


def test_each_output_written_once(cli_model, patients, tmp_path, monkeypatch, capsys):
    """screen writes every file once, through the report module: OUT/summary.csv and OUT/index.html
    beside the patient folders (each with report.html, report.json, cells.csv)."""
    from vexscreen.report import screening

    written = []
    for name in ("write_csv", "write_json", "write_text"):
        real = getattr(screening, name)
        monkeypatch.setattr(screening, name, lambda path, *a, _real=real, **k: (written.append(path),
                                                                               _real(path, *a, **k))[1])
    out = tmp_path / "out"
    assert main(["screen", "--model", str(cli_model), str(patients["pos"]), "--out", str(out), "--no-progress"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "P-pos/cells.csv", "P-pos/report.html", "P-pos/report.json", "index.html", "summary.csv"]
    assert all(p.is_file() for p in written)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"screened 1 of 1 patient(s); wrote {out / 'summary.csv'} and {out / 'index.html'}"


def test_fit_model_prints_the_weights_and_the_applicability_check(reference, tmp_path, capsys):
    code = main(["fit-model", "--encodings", str(reference["enc"]), "--groups", "UBA1-WT,VEXAS",
                 "--cell-types", "PN,MO", "--out", str(tmp_path / "m"), "--min-cells", "8", "--aggregates", "20",
                 "--bootstrap", "16", "--combiner", "weighted"])
    assert code == 0
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    w = doc["reference"]["patient_level"]["weights"]
    assert f"combined (weighted of PN, MO; weights PN {w['PN']:.2f}, MO {w['MO']:.2f};" in out
    loo = [max(doc["applicability"][ct]["loo"][p] for ct in ("PN", "MO")) for p in doc["applicability"]["PN"]["loo"]]
    assert (f"applicability check: 6 reference patients, distances from one another {min(loo):.2f}-{max(loo):.2f}; "
            "a new patient is flagged when further than every one of them (1 in 7 of patients like them") in out
