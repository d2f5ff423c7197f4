"""Text tables and the demo's words: what the CLI prints, from results alone."""
from __future__ import annotations

import numpy as np
import pytest

from vexscreen.demo import DEMO_STEPS, demo_train_config
from vexscreen.report import (format_consistency, format_demo_step, format_pipeline_result, format_recovery,
                              format_summary, matrix_to_json)

ROW = {"cell_type": "PN", "comparison": "VEXAS vs UBA1-WT", "auc": 0.876, "auc_low": 0.75, "auc_high": 0.951,
       "sensitivity": 0.86, "specificity": 0.981, "patient_auc": 1.0, "patient_p": 0.05, "pair_auc": 0.8889,
       "published": "0.87 [0.75-0.95]"}


def test_consistency_table():
    M = np.array([[np.nan, 0.9186514], [np.nan, np.nan]])
    lines = format_consistency(["LS-LG", "NOINCLUSIONS"], M).splitlines()
    assert lines[0].split() == ["LS-LG", "NOINCLUSIONS"]
    assert lines[1].split() == ["LS-LG", "0.918651"] and lines[2].split() == ["NOINCLUSIONS"]
    assert format_consistency(["A", "B"], M, digits=3).splitlines()[1].split() == ["A", "0.919"]
    assert matrix_to_json(M) == [[None, 0.9186514], [None, None]]


def test_summary_table():
    no_patient_level = {**ROW, "comparison": "UBA1-WT vs MDS", "patient_auc": None, "patient_p": None,
                        "pair_auc": None, "published": ""}
    lines = format_summary([ROW, no_patient_level]).splitlines()
    assert len(lines) == 4 and set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])
    assert lines[2].split() == ["PN", "VEXAS", "vs", "UBA1-WT", "0.88", "[0.75-0.95]", "86/98", "1.00",
                                "(p=0.050)", "0.89", "0.87", "[0.75-0.95]"]
    assert lines[3].split() == ["PN", "UBA1-WT", "vs", "MDS", "0.88", "[0.75-0.95]", "86/98"]
    # columns line up under their headings
    assert lines[2].index("86/98") == lines[0].index("sens/spec") and lines[2].index("0.87 [") == lines[0].index("published")


def test_recovery_table():
    rows = [{"cell_type": "PN", "feature": "vacuoles", "group": "VEXAS", "cells": 120, "positives": 30, "auc": 0.5512},
            {"cell_type": "LY", "feature": "blebs", "group": "all", "cells": 12, "positives": 2, "auc": None}]
    lines = format_recovery(rows).splitlines()
    assert lines[0].split() == ["cell", "feature", "within", "cells", "with", "AUC"]
    assert lines[1].split() == ["PN", "vacuoles", "VEXAS", "120", "30", "0.55"]
    assert lines[2].split() == ["LY", "blebs", "all", "12", "2", "n/a"]


def _result():
    M = np.array([[np.nan, 0.75], [np.nan, np.nan]])
    rec = [{"cell_type": "MO", "feature": "vacuoles", "group": "VEXAS", "cells": 40, "positives": 12, "auc": 0.61}]
    return {"consistency": {"MO": (["NOINCLUSIONS", "INCLUSIONS"], M)}, "rows": [ROW], "feature_recovery": rec}


def test_pipeline_result_text():
    text = format_pipeline_result(_result())
    lines = text.splitlines()
    assert lines[:2] == ["", "[phantom encoder test, MO]"] and lines[3].split() == ["NOINCLUSIONS", "0.750"]
    assert "MO   vacuoles" in text and text.index("feature recovery") < text.index("AUC aggregates")
    assert lines[-1].split()[:5] == ["PN", "VEXAS", "vs", "UBA1-WT", "0.88"]
    # no truth.csv (real images): no recovery section
    assert "feature recovery" not in format_pipeline_result({**_result(), "feature_recovery": []})


def test_every_demo_step_has_its_text(tmp_path):
    M = np.array([[np.nan, 0.937111], [np.nan, np.nan]])
    info = {"published": {}, "synthetic": {}, "synthetic_rows": {"rows": [ROW]},
            "published_table": {"cell_type": "MO", "cells": 60, "dims": 2048, "order": ["NOINCLUSIONS", "INCLUSIONS"],
                                "auc": M},
            "phantom": {"scale": 0.02}, "phantom_done": {"seconds": 41.6, "folder": tmp_path / "phantom"},
            "pipeline": {"config": demo_train_config()}, "pipeline_done": {"result": _result()},
            "done": {"seconds": 400.2, "out": tmp_path}, **_screening_info(tmp_path),
            "measurements": {"comparisons": (("UBA1-WT", "VEXAS"),), "statistic": "mean"},
            "measurements_done": {"tables": {}, "rows": {"measurements": [ROW]}, "seconds": 12.4}}
    assert set(info) == set(DEMO_STEPS)
    text = {step: format_demo_step(step, i) for step, i in info.items()}
    assert text["published"].startswith("== 1. ") and text["synthetic"].startswith("\n== 2. ")
    assert text["published_table"].splitlines()[1] == "[MO: monocytes, 60 cells, 2048 dims]"
    assert "0.937111" in text["published_table"]
    assert text["phantom"] == "\n== 3. Phantom cohort with the study's structure (scale 0.02) =="
    assert text["phantom_done"] == f"   generated in 42 s: {tmp_path / 'phantom'}"
    assert text["pipeline"] == ("\n== 4. Encoder training (resnet18 from random weights, nnclr, batch 64, lr 0.001, "
                                "<= 4 epochs), encoding, evaluation ==")
    assert text["pipeline_done"].startswith(format_pipeline_result(_result()) + "\n\nAUC aggregates:")
    assert text["done"] == f"\ndone in 400 s; outputs in {tmp_path}/"
    assert text["measurements"].startswith("\n== 4b. Cell measurements of the phantom's cells (issue 11), mean")
    assert text["measurements_done"].splitlines()[1] == "[measurements]" and "0.88" in text["measurements_done"]
    heading = " ".join(text["screening"].split())
    assert text["screening"].startswith("\n== 5. Screening held-out phantom patients")
    assert ("VEXAS vs MDS+UBA1-WT on the phantom cohort's neutrophils and monocytes (encodings): the study's "
            "classifier, 50 mean aggregates per patient; a type counts from 20 cells; interval from 50 bootstrap "
            "replicates") in heading and "small cohort drawn with seed 1" in heading
    assert max(len(line) for line in text["screening"].splitlines()) <= 100
    assert text["screening_model"] == ("   reference patients, leave-one-patient-out AUC: PN 0.00 (p=1.000), MO not "
                                       f"defined; combined 0.67 (p=0.241)\n   model folder: {tmp_path / 'model'}")
    assert text["screened"] == (f"   phantom-VEXAS-1 (truly VEXAS): VEXAS-like: 0.91 [0.84-0.96] from 24 neutrophils"
                                f"\n      -> {tmp_path / 'r.html'}")
    assert text["screening_done"].startswith(f"   index of the 6 reports: {tmp_path / 'index.html'}  (31 s)\n")
    assert "CNN encodings alone" in text["screening_done"]


def _screening_info(tmp_path) -> dict:
    from types import SimpleNamespace

    from vexscreen.demo import DEMO_HELDOUT, DEMO_SCREENING

    reference = {"cell_types": {"PN": {"auc": 0.0, "p_value": 1.0}, "MO": {"auc": None, "p_value": None}},
                 "patient_level": {"auc": 2 / 3, "p_value": 0.2409}}
    statement = "VEXAS-like: 0.91 [0.84-0.96] from 24 neutrophils"
    return {"screening": {"settings": DEMO_SCREENING, "heldout": DEMO_HELDOUT, "uses": ["encodings"]},
            "screening_model": {"model": SimpleNamespace(reference_=reference), "folder": tmp_path / "model"},
            "screened": {"patient": "phantom-VEXAS-1", "truth": "VEXAS", "report": tmp_path / "r.html",
                         "result": SimpleNamespace(statement=statement)},
            "screening_done": {"seconds": 31.2, "index": tmp_path / "index.html", "n_patients": 6,
                               "uses": ["encodings"]}}
    with pytest.raises(ValueError, match="unknown demo step"):
        format_demo_step("nonsense", {})


def test_patient_level_text_of_each_method():
    from vexscreen.report.tables import format_patient_level

    lopo = {"auc": 0.75, "p_value": 0.05, "leave_pair_out_auc": 0.8}
    assert format_patient_level(lopo) == "LOPO AUC 0.75 (p=0.050), leave-pair-out AUC 0.80"
    combined = {"method": "leave-one-patient-out, cell types combined", "auc": 1.0, "p_value": 0.0476}
    assert format_patient_level(combined) == "LOPO AUC 1.00 (p=0.048)"  # not "?-fold x?"
    kfold = {"method": "repeated stratified patient-grouped 5-fold (3 repeats)", "settings": {"folds": 5, "repeats": 3},
             "auc": 0.9, "p_value": 0.01, "pair_auc": 0.91}
    assert format_patient_level(kfold) == "5-fold x3 AUC 0.90 (p=0.010), pair AUC 0.91"
