"""Phantom cohorts: morphology honoured (measured from pixels), determinism, layout, null cohort,
real-texture mode, CLI."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage as ndi

from vexscreen.exceptions import InputError
from vexscreen.phantom import phenotypes as P
from vexscreen.phantom.cohort import (TRUTH_COLUMNS, cohort_structure, make_cohort, read_truth,
                                      study_structure)
from vexscreen.phantom.render import HEIGHT, WIDTH, CellSpec, render, render_cell
from vexscreen.phantom.texture import find_cytoplasm, plant_vacuoles

WBC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wbc"


# --------------------------------------------------------------------------- measuring from pixels

def count_lobes(img: np.ndarray) -> int:
    """Nuclear lobes from the image alone: dark (nucleus-coloured) pixels, thin filaments opened away."""
    g = ndi.gaussian_filter(img[..., 1].astype(float), 1.0)
    dark = ndi.binary_fill_holes(g < 62)
    dark = ndi.binary_opening(dark, structure=np.ones((3, 3)), iterations=1)
    lab, n = ndi.label(dark)
    areas = ndi.sum(dark, lab, range(1, n + 1))
    return int((np.asarray(areas) >= 60).sum())


def count_vacuoles(img: np.ndarray, cell: np.ndarray) -> int:
    """Clear holes inside the cell: pixels close to the glass colour, far from any other cytoplasm pixel."""
    a = ndi.gaussian_filter(img.astype(float), (0.7, 0.7, 0))
    out = ~ndi.binary_dilation(cell, iterations=12)
    grey = a.mean(2)
    glass = np.median(a[out & (grey > np.percentile(grey[out], 80))], axis=0)
    d = np.linalg.norm(a - glass, axis=2)
    inner = ndi.binary_erosion(cell, iterations=3)
    clear = (d < 0.45 * np.percentile(d[inner], 15)) & inner
    lab, n = ndi.label(clear)
    areas = ndi.sum(clear, lab, range(1, n + 1))
    return int((np.asarray(areas) >= 8).sum())


def _pn(rng, n_lobes, shape="segmented", n_vac=0, vr=5.0, gran="normal"):
    return CellSpec("PN", float(rng.normal(56, 3)), nucleus_scale=1.14, nucleus_shape=shape, n_lobes=n_lobes,
                    granulation=gran, n_vacuoles=n_vac, vacuole_radius=vr,
                    **P.smear_from_rng(rng), **P._cell_nuisance(rng))


def test_render_shape_dtype_and_determinism():
    spec = _pn(np.random.default_rng(0), 3)
    a = render_cell(spec, np.random.default_rng(5))
    b = render_cell(spec, np.random.default_rng(5))
    c = render_cell(spec, np.random.default_rng(6))
    assert a.shape == (HEIGHT, WIDTH, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # pale background at the corners, dark nucleus somewhere
    assert a[..., 1].min() < 80 and np.percentile(a.mean(2), 90) > 200


@pytest.mark.parametrize("n_lobes,shape", [(1, "band"), (1, "pelger"), (2, "pelger"), (2, "segmented"),
                                           (3, "segmented"), (4, "segmented"), (5, "segmented"),
                                           (6, "segmented")])
def test_lobes_counted_from_pixels(n_lobes, shape):
    hits = 0
    for i in range(4):
        rng = np.random.default_rng([n_lobes, i, len(shape)])
        spec = _pn(rng, n_lobes, shape, gran=str(rng.choice(["low", "normal", "high"])))
        r = render(spec, rng)
        assert r.drawn["n_lobes_drawn"] == n_lobes
        # the renderer's own mask agrees
        assert len(np.unique(r.masks["lobes"])) - 1 == (n_lobes if shape != "band" else 1)
        hits += count_lobes(r.image) == n_lobes
    assert hits >= 3, f"{hits}/4 cells with {n_lobes} lobes counted right from the image"


def test_vacuoles_counted_from_pixels():
    exact = 0
    total = 0
    for i in range(16):
        rng = np.random.default_rng([99, i])
        n = i % 5
        spec = _pn(rng, int(rng.integers(2, 5)), n_vac=n, vr=5.0, gran=str(rng.choice(["low", "normal", "high"])))
        r = render(spec, rng)
        drawn = r.drawn["n_vacuoles_drawn"]
        radii = [float(x) for x in r.drawn["vacuole_radii"].split(";") if x]
        assert drawn == len(radii) <= n
        # every drawn vacuole sits in the cytoplasm, away from the nucleus
        for k in range(1, drawn + 1):
            where = r.masks["vacuoles"] == k
            assert where.any() and not (where & r.masks["nucleus"]).any() and r.masks["cell"][where].all()
        seen = count_vacuoles(r.image, r.masks["cell"])
        if n == 0:
            assert seen == 0, "a clear hole was found in a cell without vacuoles"
        # every vacuole of radius >= 3.5 px is seen, nothing else; smaller ones (< 0.8 um across at
        # CellaVision's ~9 px/um) sit at the resolution limit, as on a real smear
        big = sum(x >= 3.5 for x in radii)
        assert big <= seen <= drawn, (seen, drawn, radii)
        exact += seen == drawn
        total += 1
    assert exact >= 0.6 * total


def test_monocyte_and_lymphocyte_features():
    rng = np.random.default_rng(3)
    mo = render(CellSpec("MO", 72, nucleus_shape="kidney", n_inclusions=2, **P._cell_nuisance(rng)), rng)
    assert mo.drawn["n_inclusions_drawn"] == 2
    ly_small = render(CellSpec("LY", 43, nucleus_shape="round", granulation="none"), np.random.default_rng(1))
    ly_large = render(CellSpec("LY", 53, nucleus_shape="round", large=True, granulation="high"),
                      np.random.default_rng(1))
    # small lymphocyte: nucleus fills most of the cell; large one has more cytoplasm and granules
    f_small = ly_small.drawn["nucleus_area"] / ly_small.drawn["cell_area"]
    f_large = ly_large.drawn["nucleus_area"] / ly_large.drawn["cell_area"]
    assert f_small > 0.55 > f_large
    assert ly_large.drawn["n_granules"] > 0 == ly_small.drawn["n_granules"]


# --------------------------------------------------------------------------- cohorts

def test_structure_study_scale_and_small():
    full = study_structure()
    assert int(full.N_CELLS.sum()) == 33757
    assert full.PATIENT.nunique() == 12
    s = cohort_structure("study", 0.02)
    assert len(s) == len(full) and (s.N_CELLS >= 1).all()
    assert set(s.PATIENT) == set(full.PATIENT)
    small = cohort_structure("small", 1.0, ("PN",))
    assert small.groupby("GROUP").PATIENT.nunique().to_dict() == {"MDS": 2, "UBA1-WT": 2, "VEXAS": 2}
    with pytest.raises(InputError):
        cohort_structure("nope")
    with pytest.raises(InputError):
        cohort_structure("study", 0)


def _tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "phantom.json"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    a = tmp_path_factory.mktemp("w1") / "ph"
    b = tmp_path_factory.mktemp("w2") / "ph"
    kw = dict(cohort="small", scale=0.34, seed=7, cell_types=("PN", "MO"), encoder_test_per_group=1)
    make_cohort(a, workers=1, **kw)
    make_cohort(b, workers=2, **kw)
    return a, b, kw


def test_same_seed_same_images_whatever_workers(two_runs):
    a, b, _ = two_runs
    da, db = _tree_digest(a), _tree_digest(b)
    assert len(da) > 30
    assert da == db


def test_truth_rows_match_images_on_disk(two_runs):
    a, _, _ = two_runs
    truth = read_truth(a)
    assert list(truth.columns) == TRUTH_COLUMNS
    images = sorted(str(p.relative_to(a)) for p in a.rglob("*.png") if "preview" not in p.parts)
    assert sorted(truth.path) == images
    assert truth.path.is_unique
    cohort = truth[truth.set == "cohort"]
    # study layout: <CT>/GROUP/PATIENT/SAMPLE/cell_NNNNN.png, labels match the folders
    parts = cohort.path.str.split("/", expand=True)
    assert (parts[0] == cohort.cell_type).all() and (parts[1] == cohort.group).all()
    assert (parts[2] == cohort.patient).all() and (parts[3] == cohort["sample"]).all()
    assert cohort.patient.str.contains(r"\[").all()  # pseudonyms kept
    enc = truth[truth.set == "encoder_test"]
    assert set(enc.group) == set(P.ENCODER_TEST_GROUPS["PN"]) | set(P.ENCODER_TEST_GROUPS["MO"])
    # encoder-test morphology matches its group
    pn = enc[enc.cell_type == "PN"]
    seg = pn.group.str[:2]
    assert (pn.n_lobes[seg == "LS"] <= 2).all() and (pn.n_lobes[seg == "HS"] >= 5).all()
    assert ((pn.n_lobes[seg == "NS"] >= 3) & (pn.n_lobes[seg == "NS"] <= 4)).all()
    # images are the canvas size, RGB
    with Image.open(a / truth.path.iloc[0]) as im:
        assert im.size == (WIDTH, HEIGHT) and im.mode == "RGB"


def test_rerun_is_noop_and_other_settings_refused(two_runs):
    a, _, kw = two_runs
    before = _tree_digest(a)
    make_cohort(a, workers=1, **kw)
    assert _tree_digest(a) == before
    with pytest.raises(InputError):
        make_cohort(a, workers=1, **{**kw, "seed": 8})


def test_resume_after_interruption(tmp_path):
    out = tmp_path / "ph"
    kw = dict(cohort="small", scale=0.17, seed=3, cell_types=("LY",), encoder_test_per_group=0)
    make_cohort(out, **kw)
    full = _tree_digest(out)
    # simulate a run killed half way: truth.csv not yet written, half the chunks recorded
    from vexscreen.phantom.cohort import _run_unit, _units
    (out / "truth.csv").unlink()
    units = _units(cohort_structure("small", 0.17, ("LY",)), 0, ("LY",))
    for u in units[: len(units) // 2]:
        _run_unit((str(out), u, 3, False, None, "drawn"))
    victim = sorted(out.rglob("*.png"))[-1]
    victim.unlink()
    make_cohort(out, **kw)
    assert _tree_digest(out) == full
    assert not (out / ".parts").exists()


def test_group_phenotypes_and_null_cohort():
    seed = 0
    s = cohort_structure("study", 1.0, ("PN",))
    patients = s.drop_duplicates("PATIENT")[["GROUP", "PATIENT"]]
    study = {p: P.patient_phenotype(g, p, seed) for g, p in patients.itertuples(index=False)}
    null = {p: P.patient_phenotype(g, p, seed, null=True) for g, p in patients.itertuples(index=False)}
    # study: VEXAS patients have 20-60% vacuolated neutrophils, the others only the baseline
    for (g, p) in patients.itertuples(index=False):
        if g == "VEXAS":
            assert 0.2 <= study[p].vacuole_fraction <= 0.6 and study[p].vacuole_count_mean > 0
        else:
            assert study[p].vacuole_fraction == P.BASELINE.vacuole_fraction
    assert max(study[p].hyposeg_fraction for p in study if p.startswith("MDS")) >= 0.15
    # null: every patient's phenotype is the same, so no parameter differs between groups
    assert len({v for v in null.values()}) == 1
    # and cell specs are a function of the cell's identity only, not its group
    pheno = null["VEXAS[1]"]
    smear = P.smear_nuisance("S1", seed)
    a = P.cell_spec("PN", pheno, smear, np.random.default_rng([1, 2, 3]))
    b = P.cell_spec("PN", null["MDS[1]"], smear, np.random.default_rng([1, 2, 3]))
    assert a == b
    # many null cells across groups: vacuole rate is the baseline for every group
    rates = {}
    for g, p in patients.itertuples(index=False):
        specs = [P.cell_spec("PN", null[p], smear, np.random.default_rng([P.stable_id(p), i])) for i in range(300)]
        rates[g] = rates.get(g, []) + [np.mean([sp.n_vacuoles > 0 for sp in specs])]
    means = {g: np.mean(v) for g, v in rates.items()}
    assert max(means.values()) - min(means.values()) < 0.03
    assert max(means.values()) < 0.06


def test_lymphocytes_carry_no_group_signal():
    smear = P.smear_nuisance("S", 0)
    ph_v = P.patient_phenotype("VEXAS", "VEXAS[1]", 0)
    ph_m = P.patient_phenotype("MDS", "MDS[1]", 0)
    assert ph_v != ph_m
    for i in range(20):
        assert P.cell_spec("LY", ph_v, smear, np.random.default_rng(i)) == \
            P.cell_spec("LY", ph_m, smear, np.random.default_rng(i))


# --------------------------------------------------------------------------- real-texture mode

def _real(n=3):
    files = sorted((WBC / "neutrophil").glob("SNE_*.jpg"))[:n]
    if len(files) < n:
        pytest.skip(f"{WBC} not available")
    return files


def test_plant_vacuoles_in_real_cytoplasm():
    for k, f in enumerate(_real(3)):
        img = np.asarray(Image.open(f).convert("RGB"))
        cyto = find_cytoplasm(img)
        assert cyto is not None
        out, rec = plant_vacuoles(img, 3, 4.5, np.random.default_rng(k), cyto)
        assert rec["texture_status"] == "planted" and rec["n_vacuoles_drawn"] >= 1
        changed = np.abs(out.astype(int) - img.astype(int)).max(axis=2) > 8
        allowed = ndi.binary_dilation(cyto.mask, iterations=3)
        assert changed.any() and not (changed & ~allowed).any()
        for c, r in zip(rec["vacuole_centers"].split(";"), rec["vacuole_radii"].split(";")):
            x, y = (int(v) for v in c.split(":"))
            assert cyto.mask[y, x] and not cyto.nucleus[y, x]
            # enclosed: cytoplasm all round the hole, never open to the glass at the outline
            assert ndi.distance_transform_edt(cyto.mask)[y, x] >= float(r) + 3
            assert out[y, x].astype(int).sum() > img[y, x].astype(int).sum()  # clearer than before


def test_red_cells_are_not_cytoplasm():
    """Vacuoles go into leukocyte cytoplasm only: a pixel coloured like a red cell (OD blue / green
    ~0.6) is left out of the plantable mask, neutrophil (~0.4) and monocyte (~0.3) cytoplasm kept."""
    from vexscreen.phantom.texture import _red

    bg = np.array([240.0, 235.0, 230.0])

    def colour(od_green, ratio):
        od = np.array([0.15 * od_green, od_green, ratio * od_green])
        return (bg * np.exp(-od))[None, None, :]

    assert _red(colour(0.5, 0.62), bg).all()
    assert not _red(colour(0.3, 0.41), bg).any() and not _red(colour(0.3, 0.3), bg).any()
    assert not _red(bg[None, None, :], bg).any()  # the glass is not red (and not cytoplasm either)


def test_flat_image_used_unchanged():
    grey = np.full((363, 360, 3), 180, np.uint8)
    assert find_cytoplasm(grey) is None
    out, rec = plant_vacuoles(grey, 3, 4.5, np.random.default_rng(0))
    assert rec["texture_status"] == "no_cytoplasm_found" and rec["n_vacuoles_drawn"] == 0
    assert np.array_equal(out, grey)


def test_cohort_with_source_images(tmp_path):
    src = tmp_path / "src" / "neutrophil"
    src.mkdir(parents=True)
    for f in _real(3):
        (src / f.name).write_bytes(f.read_bytes())
    Image.fromarray(np.full((363, 360, 3), 180, np.uint8)).save(src / "ZZ_flat.png")
    out = tmp_path / "ph"
    make_cohort(out, cohort="small", scale=1.0, seed=1, cell_types=("PN",), encoder_test_per_group=0,
                source_images=tmp_path / "src")
    truth = read_truth(out)
    assert (truth.source == "real").all()
    assert truth.source_image.map(lambda p: Path(p).parent == src).all()
    # what happened to each cell follows from what was asked and from its source image
    requested = truth.n_vacuoles > 0
    flat_src = truth.source_image.str.endswith("ZZ_flat.png")
    assert (truth.texture_status[~requested] == "no_vacuoles_requested").all()
    assert (requested & flat_src).any() and (truth.texture_status[requested & flat_src] == "no_cytoplasm_found").all()
    real = truth.texture_status[requested & ~flat_src]
    assert (real == "planted").sum() >= 0.5 * len(real) > 0
    assert (real[real != "planted"] == "no_room_in_cytoplasm").all()
    assert ((truth.texture_status == "planted") == (truth.n_vacuoles_drawn > 0)).all()
    assert ((truth.group == "VEXAS") & (truth.texture_status == "planted")).any()
    for r in truth[flat_src].itertuples():
        got = np.asarray(Image.open(out / r.path).convert("RGB"))
        assert (got == 180).all()
    unchanged = truth[truth.texture_status != "planted"]
    for r in unchanged.head(3).itertuples():
        src_img = np.asarray(Image.open(r.source_image).convert("RGB"))
        assert np.array_equal(np.asarray(Image.open(out / r.path).convert("RGB")), src_img)


# --------------------------------------------------------------------------- CLI

def test_cli(tmp_path, capsys):
    from vexscreen.cli import main

    out = tmp_path / "ph"
    rc = main(["phantom", "--out", str(out), "--cohort", "small", "--scale", "0.17", "--cell-types", "LY",
               "--encoder-test-per-group", "1", "--no-progress", "--preview", "--workers", "1"])
    assert rc == 0
    truth = pd.read_csv(out / "truth.csv")
    assert len(truth) == 12 + 4 and set(truth.cell_type) == {"LY"}
    assert (out / "preview" / "LY_VEXAS.png").exists() and (out / "preview" / "ENC_LY_BLEBS.png").exists()
    assert "16 images" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # a bad number: refused where it is parsed
        main(["phantom", "--out", str(tmp_path / "x"), "--scale", "0"])
    assert refused.value.code == 2 and not (tmp_path / "x").exists()
    assert main(["phantom", "--out", str(tmp_path / "y"), "--cell-types", "XX"]) == 2


def _colour_stats(a: np.ndarray):
    a = a.reshape(-1, 3).astype(float)
    g = a.mean(1)
    return np.median(a[g >= np.percentile(g, 80)], 0), np.median(a[g <= np.percentile(g, 2)], 0)


@pytest.mark.parametrize("ct,folder", [("PN", "neutrophil"), ("MO", "monocyte"), ("LY", "lymphocyte")])
def test_colours_like_real_cells(ct, folder):
    """Glass (brightest 20%) and nucleus (darkest 2%) colours within 20 levels of real PBC images."""
    files = sorted((WBC / folder).glob("*.jpg"))[::97][:10]
    if len(files) < 10:
        pytest.skip(f"{WBC} not available")
    real = [_colour_stats(np.asarray(Image.open(f).convert("RGB"))) for f in files]
    ph = [_colour_stats(render(P.cell_spec(ct, P.BASELINE, P.smear_nuisance(f"s{i}", 0), np.random.default_rng(i)),
                               np.random.default_rng(i + 1)).image) for i in range(10)]
    for k in (0, 1):
        r = np.median([x[k] for x in real], 0)
        p = np.median([x[k] for x in ph], 0)
        assert np.abs(r - p).max() <= 20, (k, r, p)


def test_progress_callback_and_log(tmp_path, caplog, capsys):
    """The library reports progress to the caller's callback and its summary to logging; it prints nothing."""
    calls = []
    with caplog.at_level("INFO", logger="vexscreen.phantom"):
        make_cohort(tmp_path / "ph", cohort="small", scale=0.17, seed=3, cell_types=("LY",),
                    encoder_test_per_group=2, progress=lambda desc, done, total: calls.append((done, total)))
    n = 12 + 4 * 2  # 6 patients x 2 samples x 1 cell, 4 lymphocyte encoder-test groups x 2
    assert calls[-1] == (n, n) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert f"phantom: {n} cells rendered" in caplog.text
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- --patients-per-group (issue 11.4)

def test_patients_per_group_structure_from_study_patients():
    full = study_structure()
    s = cohort_structure("study", 1.0, patients_per_group=8, seed=3)
    assert s.groupby("GROUP").PATIENT.nunique().to_dict() == {"MDS": 8, "UBA1-WT": 8, "VEXAS": 8}
    assert s.groupby(["CELL_TYPE", "GROUP"]).PATIENT.nunique().eq(8).all()
    # every patient is a copy of one study patient: its per-cell-type sample counts and cell counts
    by_patient = {p: sorted(zip(g.CELL_TYPE, g.N_CELLS)) for p, g in full.groupby("PATIENT")}
    for p, g in s.groupby("PATIENT"):
        assert sorted(zip(g.CELL_TYPE, g.N_CELLS)) in by_patient.values(), p
        assert all(x.startswith(f"{g.GROUP.iloc[0]}-") for x in g.SAMPLE)
    assert not s.duplicated(["CELL_TYPE", "SAMPLE"]).any()      # every sample its own smear
    # seeded: same seed same structure, another seed another draw
    pd.testing.assert_frame_equal(s, cohort_structure("study", 1.0, patients_per_group=8, seed=3))
    assert not s.equals(cohort_structure("study", 1.0, patients_per_group=8, seed=4))
    # the null cohort draws the same structure; scale and cell types apply as without the option
    pd.testing.assert_frame_equal(s, cohort_structure("null", 1.0, patients_per_group=8, seed=3))
    small = cohort_structure("study", 0.01, ("MO",), patients_per_group=8, seed=3)
    assert set(small.CELL_TYPE) == {"MO"} and (small.N_CELLS >= 1).all()
    # the default: the study's own patients, as before
    assert set(cohort_structure("study", 0.02).PATIENT) == set(full.PATIENT)


def test_patients_per_group_bad_values():
    for bad in (0, -1, 201):
        with pytest.raises(InputError, match="patients-per-group"):
            cohort_structure("study", 1.0, patients_per_group=bad)
    with pytest.raises(InputError, match="not small"):
        cohort_structure("small", 1.0, patients_per_group=4)


def test_cli_patients_per_group(tmp_path, capsys):
    from vexscreen.cli import main

    out = tmp_path / "ph"
    args = ["phantom", "--out", str(out), "--cohort", "null", "--patients-per-group", "1", "--scale", "0.001",
            "--cell-types", "LY", "--encoder-test-per-group", "0", "--seed", "1", "--no-progress"]
    assert main(args) == 0
    truth = read_truth(out)
    assert truth.groupby("group").patient.unique().map(list).to_dict() == {
        "MDS": ["MDS[1]"], "UBA1-WT": ["UBA1-WT[1]"], "VEXAS": ["VEXAS[1]"]}
    expected = cohort_structure("null", 0.001, ("LY",), patients_per_group=1, seed=1)
    assert len(truth) == expected.N_CELLS.sum()
    assert "1 patients per group" in capsys.readouterr().out
    # the option is part of the settings: another value in the same folder is refused
    assert main(args[:6] + ["2"] + args[7:]) == 2
    with pytest.raises(SystemExit) as exc:  # refused while parsing: one line, exit 2
        main(["phantom", "--out", str(tmp_path / "z"), "--patients-per-group", "0"])
    assert exc.value.code == 2 and "--patients-per-group" in capsys.readouterr().err
