"""Patient summaries of a measurement table in the shape vexscreen.morphology writes it."""
import numpy as np
import pandas as pd
import pytest

from vexscreen.model.measures import VACUOLATED, cell_values, measure_columns, patient_values, reference_ranges


def _table():
    # quality_detail empty for every cell reads as a float column; a cell not measured has NaNs
    return pd.DataFrame({"PATIENT": ["a", "a", "a", "b", "b", "c"],
                         "quality": ["ok", "ok", "no_nucleus", "ok", "ok", "no_nucleus"],
                         "quality_detail": [np.nan] * 6,
                         "vacuole_count": [2, 0, np.nan, 0, 0, np.nan],
                         "cell_area_um2": [80.0, 100.0, np.nan, 90.0, 70.0, np.nan],
                         "pseudo_pelger": [np.nan] * 6})


def test_only_measures_with_values_count():
    assert measure_columns(_table()) == ["vacuole_count", "cell_area_um2"]


def test_cells_not_measured_count_neither_way():
    v = patient_values(_table()[lambda t: t.PATIENT == "a"])
    assert v[VACUOLATED] == pytest.approx(50.0) and v["cell_area_um2"] == pytest.approx(90.0)
    assert patient_values(_table()[lambda t: t.PATIENT == "c"]) == {VACUOLATED: None}  # nothing measured


def test_a_class_without_values_has_no_range():
    t = _table()
    ranges = reference_ranges(t, t["PATIENT"], {"a": "VEXAS", "b": "VEXAS", "c": "UBA1-WT"}, ["UBA1-WT", "VEXAS"])
    assert set(ranges) == {VACUOLATED, "vacuole_count", "cell_area_um2"}
    assert ranges[VACUOLATED]["reference"] == {"VEXAS": [0.0, 50.0]}  # UBA1-WT: none measured, no range
    assert ranges["cell_area_um2"] == {"unit": "µm²", "reference": {"VEXAS": [80.0, 90.0]},
                                       "patients": {"a": 90.0, "b": 80.0}}


def test_cell_fields_counts_as_whole_numbers():
    t = _table().assign(nucleus_lobes=[3.0, 2.0, np.nan, 1.0, 4.0, np.nan])
    assert cell_values(t, 0) == {"vacuole_count": 2, "vacuole_area_um2": None, "nucleus_lobes": 3, "quality": "ok"}
    assert type(cell_values(t, 0)["vacuole_count"]) is int
    assert cell_values(t, 2) == {"vacuole_count": None, "vacuole_area_um2": None, "nucleus_lobes": None,
                                 "quality": "no_nucleus"}
