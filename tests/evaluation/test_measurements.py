"""The per-patient measurement table of evaluate (issue 11, item 3)."""
import numpy as np
import pandas as pd
import pytest

from vexscreen.cli import main
from vexscreen.evaluation.measurements import (format_measurements_by_patient, measurement_rows,
                                               measurements_by_patient)
from vexscreen.exceptions import InputError
from vexscreen.morphology import COLUMNS


def _table(vacuolated=(0.5, 0.4, 0.6, 0.3, 0.0, 0.1, 0.0, 0.05), cells=20, seed=0):
    """4 VEXAS patients then 4 UBA1-WT patients; patient k has ``vacuolated[k]`` of its cells vacuolated."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, frac in enumerate(vacuolated):
        group = "VEXAS" if k < 4 else "UBA1-WT"
        for i in range(cells):
            row = {c: float(rng.normal()) for c in COLUMNS}
            row.update(PATIENT=f"{group}[{k}]", SAMPLE=f"S{k}", GROUP=group, IMAGE=f"{group}/{k}/c{i}.png",
                       quality="ok", quality_detail="", vacuole_count=float(i < round(frac * cells)),
                       nucleus_lobes=float(2 + (k < 4)), pseudo_pelger=float(i == 0))
            rows.append(row)
    t = pd.DataFrame(rows)
    t.loc[1, "quality"] = "no_cell"                       # an unmeasured cell: counted, not in fractions
    t.loc[1, list(COLUMNS)] = np.nan
    return t


def test_per_patient_fractions_group_summary_and_tests():
    r = measurements_by_patient(_table(), ["UBA1-WT", "VEXAS"])
    t = r["table"]
    pat = t[t.level == "patient"].set_index("PATIENT")
    assert list(pat.GROUP) == ["UBA1-WT"] * 4 + ["VEXAS"] * 4        # negatives first, as given
    assert pat.loc["VEXAS[0]", "n_cells"] == 20 and pat.loc["VEXAS[0]", "n_measured"] == 19
    assert pat.loc["VEXAS[0]", "vacuolated_fraction"] == pytest.approx(9 / 19)   # cell 1 unmeasured
    assert pat.loc["VEXAS[2]", "vacuolated_fraction"] == pytest.approx(0.6)
    assert pat.loc["UBA1-WT[5]", "vacuolated_fraction"] == pytest.approx(0.1)
    assert pat.loc["VEXAS[2]", "mean_lobes"] == 3 and pat.loc["UBA1-WT[6]", "mean_lobes"] == 2
    assert pat.loc["VEXAS[2]", "pseudo_pelger_fraction"] == pytest.approx(0.05)
    grp = t[t.level == "group"].set_index("GROUP")
    vex = pat[pat.GROUP == "VEXAS"].vacuolated_fraction
    assert grp.loc["VEXAS", "vacuolated_fraction"] == pytest.approx(vex.mean())
    assert grp.loc["VEXAS", "vacuolated_fraction_min"] == pytest.approx(vex.min())
    # every VEXAS patient above every UBA1-WT one: AUC 1, exact p = 1 / C(8, 4)
    assert r["tests"]["vacuolated_fraction"]["auc"] == 1.0
    assert r["tests"]["vacuolated_fraction"]["p_value"] == pytest.approx(1 / 70)
    assert r["tests"]["pseudo_pelger_fraction"]["p_value"] > 0.3      # no difference: no small p
    text = format_measurements_by_patient(r)
    assert "VEXAS[2]" in text and "0.60" in text and "0.014" in text
    rows = measurement_rows(r)
    assert list(rows[rows.level == "test"].PATIENT) == ["auc", "p_value"]


def test_measures_of_a_cell_type_and_groups_only():
    """Monocytes: the vacuolated fraction only (a round nucleus is not pseudo-Pelger)."""
    from vexscreen.evaluation.measurements import MEASURES_BY_CELL_TYPE

    r = measurements_by_patient(_table(), ["UBA1-WT", "VEXAS"], measures=MEASURES_BY_CELL_TYPE["MO"])
    assert list(r["measures"]) == list(r["tests"]) == ["vacuolated_fraction"]
    text = format_measurements_by_patient(r, patients=False)
    assert "pseudo_pelger" not in text and "mean_lobes" not in text and "VEXAS[2]" not in text
    assert [line.split()[0] for line in text.splitlines()[1:3]] == ["UBA1-WT", "VEXAS"]
    with pytest.raises(InputError, match="unknown measure"):
        measurements_by_patient(_table(), ["UBA1-WT", "VEXAS"], measures=("lobes",))


def test_bad_measurement_tables():
    with pytest.raises(InputError, match="lacks column"):
        measurements_by_patient(_table().drop(columns="pseudo_pelger"), ["UBA1-WT", "VEXAS"])
    with pytest.raises(InputError, match=r"\['MDS'\] not in"):
        measurements_by_patient(_table(), ["MDS", "VEXAS"])


def test_evaluate_cli_with_encodings_and_measurements(tmp_path, capsys):
    t = _table(cells=12)
    meta = t[["PATIENT", "SAMPLE", "GROUP", "IMAGE"]]
    rng = np.random.default_rng(3)
    for name, X in (("enc", rng.normal(size=(len(t), 8))),
                    ("meas", np.nan_to_num(t[list(COLUMNS)].to_numpy(float)))):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "encodings.npy", X.astype(np.float32))
        meta.to_csv(tmp_path / name / "metadata.csv", index=False)
    t.to_csv(tmp_path / "meas" / "measurements.csv", index=False)
    assert main(["evaluate", str(tmp_path / "enc"), str(tmp_path / "meas"), "--groups", "UBA1-WT,VEXAS",
                 "--out", str(tmp_path / "out"), "--iterations", "2", "--aggregates", "5",
                 "--aggregate-size", "3", "--no-plots", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "measurements per patient" in out and "exact permutation p" in out
    written = pd.read_csv(tmp_path / "out" / "measurements_by_patient.csv")
    assert len(written) == 8 + 2 + 2
    p = written[(written.level == "test") & (written.PATIENT == "p_value")].vacuolated_fraction.item()
    assert p == pytest.approx(1 / 70)


def test_read_measurements_keeps_ids_as_text(tmp_path):
    from vexscreen.evaluation.measurements import read_measurements

    t = _table()
    t["PATIENT"] = "007"
    t.to_csv(tmp_path / "measurements.csv", index=False)
    read = read_measurements(tmp_path)  # the folder measure wrote, or the file itself
    assert read["PATIENT"].unique().tolist() == ["007"]
    pd.testing.assert_frame_equal(read, read_measurements(tmp_path / "measurements.csv"))
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(InputError, match="cannot read as CSV"):
        read_measurements(tmp_path / "bad.csv")
