"""The phantom's drawing styles: the default unchanged, the calibrated one measured like real cells."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vexscreen.exceptions import InputError
from vexscreen.morphology import measure_cell
from vexscreen.phantom import phenotypes as P
from vexscreen.phantom.cohort import make_cohort
from vexscreen.phantom.render import render
from vexscreen.phantom.style import CALIBRATED, DRAWN, get_style

ROOT = Path(__file__).resolve().parents[2]
#: real normal cells' 10th / 50th / 90th percentiles, measured on ../shared/data/wbc by
#: experiments/phantom_fidelity.py (committed, so the test runs without ../shared)
REAL = json.loads((ROOT / "experiments" / "results" / "phantom_fidelity.json").read_text())


def _normal_cells(cell_type, style, n, shape=None):
    """n baseline cells of a normal donor (no vacuole, inclusion or abnormal granulation), measured."""
    rows = []
    for i in range(400):
        rng = P.generator(7, 1, i)
        spec = P.cell_spec(cell_type, P.BASELINE, P.smear_from_rng(P.generator(7, 2, i % 5)), rng, style)
        if not P.is_normal_cell(spec, shape):
            continue
        row = measure_cell(render(spec, P.generator(7, 3, i), style).image)
        if row["quality"] == "ok":
            rows.append(row)
        if len(rows) == n:
            return rows
    raise AssertionError("too few cells")  # pragma: no cover


def _median(rows, column):
    return float(np.median([r[column] for r in rows]))


def _inside(value, kind, column):
    lo, _, hi = REAL[kind]["columns"][column]["real_10_50_90"]
    return lo <= value <= hi


def test_drawn_is_the_default_and_draws_as_before():
    spec = P.cell_spec("PN", P.BASELINE, P.smear_from_rng(P.generator(1)), P.generator(2))
    assert spec == P.cell_spec("PN", P.BASELINE, P.smear_from_rng(P.generator(1)), P.generator(2), DRAWN)
    bigger = P.cell_spec("PN", P.BASELINE, P.smear_from_rng(P.generator(1)), P.generator(2), "calibrated")
    assert bigger.cell_radius > spec.cell_radius   # a style by name, as by object
    a, b = render(spec, P.generator(3)), render(spec, P.generator(3), "drawn")
    assert np.array_equal(a.image, b.image)
    c = render(spec, P.generator(3), CALIBRATED)
    assert not np.array_equal(a.image, c.image)
    assert get_style("calibrated") is CALIBRATED and get_style(DRAWN) is DRAWN
    with pytest.raises(ValueError, match="unknown phantom style 'faithful'"):
        get_style("faithful")


@pytest.mark.parametrize("cell_type,shape,kind", [("PN", "segmented", "segmented neutrophils"),
                                                  ("MO", None, "monocytes")])
def test_calibrated_cells_measure_like_real_ones(cell_type, shape, kind):
    """Where the drawn style is off (size, nucleus, chromatin, monocyte cytoplasm), the calibrated
    style's median falls inside the real cells' 10th-90th percentile band and the drawn one's not."""
    drawn = _normal_cells(cell_type, DRAWN, 10, shape)
    calibrated = _normal_cells(cell_type, CALIBRATED, 10, shape)
    columns = (["cell_area_um2", "nucleus_area_um2", "lobe_bridge_um"] if cell_type == "PN"
               else ["nucleus_area_um2", "nc_ratio", "cytoplasm_od_blue", "granularity"])
    for column in columns:
        assert not _inside(_median(drawn, column), kind, column), column
        assert _inside(_median(calibrated, column), kind, column), column
    real_od = REAL[kind]["columns"]["nucleus_od"]["real_10_50_90"][1]
    assert abs(_median(calibrated, "nucleus_od") - real_od) < abs(_median(drawn, "nucleus_od") - real_od)


def test_cohort_records_its_style_and_refuses_bad_ones(tmp_path):
    kw = dict(cohort="small", scale=0.17, seed=3, cell_types=("MO",), encoder_test_per_group=0)
    out = make_cohort(tmp_path / "cal", style="calibrated", **kw)
    manifest = json.loads((out / "phantom.json").read_text())
    assert manifest["style"] == "calibrated" and manifest["style_parameters"]["pn_radius"] == [73.0, 4.5]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    make_cohort(out, style="calibrated", **kw)   # the same settings: resumed, nothing redrawn
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before
    drawn = make_cohort(tmp_path / "drawn", **kw)
    assert "style" not in json.loads((drawn / "phantom.json").read_text())  # as before styles existed
    with pytest.raises(InputError, match="other settings"):  # resuming with another style is refused
        make_cohort(out, **kw)
    with pytest.raises(InputError, match="--style must be one of drawn, calibrated"):
        make_cohort(tmp_path / "x", style="faithful", **kw)
    with pytest.raises(InputError, match="with --source-images the cells are real"):
        make_cohort(tmp_path / "y", style="calibrated", source_images=tmp_path, **kw)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_cli_style(tmp_path, capsys):
    from vexscreen.cli import main
    from vexscreen.commands.phantom import STYLE_NAMES
    from vexscreen.phantom.style import STYLES

    assert STYLE_NAMES == tuple(STYLES)   # the CLI's copy of the names, kept free of the heavy import

    out = tmp_path / "ph"
    assert main(["phantom", "--out", str(out), "--cohort", "small", "--scale", "0.17", "--cell-types", "LY",
                 "--encoder-test-per-group", "0", "--no-progress", "--style", "calibrated"]) == 0
    assert "calibrated style" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["phantom", "--out", str(tmp_path / "z"), "--style", "faithful"])
    assert refused.value.code == 2 and not (tmp_path / "z").exists()
