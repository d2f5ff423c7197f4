"""measure_scan / `vexscreen measure`: one row per image in encode's order and metadata, NaN-free
standardised encodings, quality flags kept, bad files listed, resumable, same result with 2 workers."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from vexscreen.cli import main
from vexscreen.data.scan import scan_images
from vexscreen.encoder.backbones import build_backbone
from vexscreen.encoder.config import Geometry
from vexscreen.encoder.encoder_file import save_encoder
from vexscreen.morphology import COLUMNS, measure_scan
from vexscreen.morphology import run as R

from .conftest import drawn, red_cells_only, save, two_touching_cells

BLANK = np.full((363, 360, 3), (252, 228, 202), np.uint8)


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    """ROOT/GROUP/PATIENT/SAMPLE/img: drawn cells (one vacuolated), a blank frame, red cells only,
    two touching cells, a grey image, an opaque RGBA image, and two files the scanner refuses."""
    root = tmp_path_factory.mktemp("labeled")
    s = root / "VEXAS" / "P1" / "S1"
    save(s / "a_cell.png", drawn(0, cell_type="PN").image)
    save(s / "b_vacuolated.png", drawn(1, cell_type="PN", n_vacuoles=3, vacuole_radius=5.5).image)
    save(s / "c_blank.png", BLANK)
    save(s / "d_red_cells.png", red_cells_only())
    t = root / "MDS" / "P2" / "S2"
    save(t / "a_two_cells.png", two_touching_cells())
    save(t / "b_grey.png", drawn(2, cell_type="MO", nucleus_shape="kidney", n_lobes=1).image, mode="L")
    save(t / "c_rgba.png", drawn(3, cell_type="LY", nucleus_shape="round", n_lobes=1).image, mode="RGBA")
    rgba = np.dstack([drawn(3).image, np.full((363, 360), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(t / "d_transparent.png")
    Image.fromarray(np.full((40, 40), 4000, np.uint16)).save(t / "e_16bit.png")
    return root


@pytest.fixture(scope="module")
def measured(labeled, tmp_path_factory):
    out = tmp_path_factory.mktemp("meas")
    scan = scan_images(labeled, progress=False)
    return scan, out, measure_scan(scan, out, workers=1)


def test_one_row_per_image_with_encodes_metadata(measured):
    scan, out, summary = measured
    table = pd.read_csv(out / "measurements.csv", keep_default_na=False, dtype=str)
    meta = pd.read_csv(out / "metadata.csv", dtype=str)
    pd.testing.assert_frame_equal(meta, scan.metadata().astype(str))
    assert list(table.columns[:4]) == ["PATIENT", "SAMPLE", "GROUP", "IMAGE"]
    assert list(table.columns[4:]) == ["quality", "quality_detail", *COLUMNS]
    assert table["IMAGE"].tolist() == meta["IMAGE"].tolist()
    assert len(table) == 7 and summary["images"] == 7  # 9 files, 2 refused by the scanner


def test_quality_flags_of_bad_frames(measured):
    _, out, summary = measured
    q = pd.read_csv(out / "measurements.csv", keep_default_na=False).set_index("IMAGE")["quality"]
    assert q["VEXAS/P1/S1/a_cell.png"] == "ok"
    assert q["VEXAS/P1/S1/b_vacuolated.png"] == "ok"
    assert q["VEXAS/P1/S1/c_blank.png"] == "no_cell"
    assert q["VEXAS/P1/S1/d_red_cells.png"] == "no_cell"
    assert q["MDS/P2/S2/a_two_cells.png"] == "several_cells"
    assert q["MDS/P2/S2/b_grey.png"] == "no_cell"  # grey: no stain colour left to find a nucleus by
    assert q["MDS/P2/S2/c_rgba.png"] == "ok"  # opaque RGBA: converted by the scanner
    bad = {b["path"].rsplit("/", 1)[-1]: b["reason"] for b in summary["bad_files"]}
    assert "transparency" in bad["d_transparent.png"] and "16" in bad["e_16bit.png"]


def test_unmeasured_cells_have_empty_measurements_and_zero_encodings(measured):
    _, out, summary = measured
    table = pd.read_csv(out / "measurements.csv")
    X = np.load(out / "encodings.npy")
    assert X.dtype == np.float32 and X.shape == (7, len(COLUMNS)) and np.isfinite(X).all()
    ok = (table["quality"] == "ok").to_numpy()
    assert table.loc[~ok, list(COLUMNS)].isna().all().all()
    assert table.loc[ok, list(COLUMNS)].notna().all().all()
    assert (X[~ok] == 0).all()
    np.testing.assert_allclose(X[ok].mean(0), 0, atol=1e-5)
    raw = table.loc[ok, list(COLUMNS)].to_numpy()
    mean, std = np.array(list(summary["mean"].values())), np.array(list(summary["std"].values()))
    np.testing.assert_allclose(X[ok], (raw - mean) / std, atol=1e-3)
    assert table.set_index("IMAGE").loc["VEXAS/P1/S1/b_vacuolated.png", "vacuole_count"] >= 1
    assert json.loads((out / "measure.json").read_text())["quality"]["ok"] == ok.sum()


def test_same_rows_as_encode(labeled, measured, tmp_path):
    _, out, _ = measured
    torch.manual_seed(0)
    enc = tmp_path / "encoder.pt"
    save_encoder(enc, build_backbone("resnet18"), Geometry(full_size=64))
    assert main(["encode", "--encoder", str(enc), "--images", str(labeled), "--out", str(tmp_path / "enc"),
                 "--workers", "0", "--no-progress", "--full-size", "64", "--oversize", "resize"]) == 0
    a = pd.read_csv(tmp_path / "enc" / "metadata.csv", dtype=str)
    b = pd.read_csv(out / "metadata.csv", dtype=str)
    pd.testing.assert_frame_equal(a, b)


def test_resume_after_interruption_and_workers_give_the_same_table(labeled, measured, tmp_path, monkeypatch):
    scan, out, _ = measured
    monkeypatch.setattr(R, "CHUNK", 2)
    calls = []
    real = R._measure_chunk

    def flaky(task):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(task)
        return real(task)

    monkeypatch.setattr(R, "_measure_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        measure_scan(scan, tmp_path / "m", workers=1)
    assert len(list((tmp_path / "m" / ".parts").glob("part_*.csv"))) == 2
    monkeypatch.setattr(R, "_measure_chunk", real)
    s = measure_scan(scan, tmp_path / "m", workers=1)
    assert s["measured_now"] == 3  # 7 images in chunks of 2: two chunks (4 images) were kept
    assert not (tmp_path / "m" / ".parts").exists()
    ref = pd.read_csv(out / "measurements.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "m" / "measurements.csv"), ref)
    measure_scan(scan, tmp_path / "w2", workers=2)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "w2" / "measurements.csv"), ref)
    np.testing.assert_array_equal(np.load(tmp_path / "w2" / "encodings.npy"), np.load(out / "encodings.npy"))


def test_a_finished_run_is_kept_unless_the_measuring_changed(measured, tmp_path, monkeypatch):
    scan, _, _ = measured
    first = measure_scan(scan, tmp_path / "m", workers=1)
    calls = []
    real = R._measure_chunk
    monkeypatch.setattr(R, "_measure_chunk", lambda task: (calls.append(task), real(task))[1])
    assert measure_scan(scan, tmp_path / "m", workers=1) == first and calls == []  # kept as it is
    monkeypatch.setattr(R, "MEASURE_VERSION", R.MEASURE_VERSION + 1)  # newer measuring code
    again = measure_scan(scan, tmp_path / "m", workers=1)
    assert calls and again["measured_now"] == len(scan.images) and again["version"] == R.MEASURE_VERSION
    (tmp_path / "m" / "measurements.csv").unlink()  # a damaged finished run is measured again
    calls.clear()
    measure_scan(scan, tmp_path / "m", workers=1)
    assert calls and (tmp_path / "m" / "measurements.csv").is_file()


def test_other_images_under_the_same_names_are_measured_again(tmp_path):
    """A run resumed on another image folder with the same file names (a regenerated phantom, an
    image replaced in place) must not keep the old numbers."""
    import os

    root = tmp_path / "et"
    save(root / "SEGMENTED" / "c1.png", drawn(1, cell_type="PN").image)
    first = measure_scan(scan_images(root), tmp_path / "m", workers=1)
    t0 = pd.read_csv(tmp_path / "m" / "measurements.csv")
    assert t0.vacuole_count[0] == 0
    save(root / "SEGMENTED" / "c1.png", drawn(1, cell_type="PN", n_vacuoles=3, vacuole_radius=5.5).image)
    st = os.stat(root / "SEGMENTED" / "c1.png")
    os.utime(root / "SEGMENTED" / "c1.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = measure_scan(scan_images(root), tmp_path / "m", workers=1)
    assert again["measured_now"] == 1 and again["images_sha256"] != first["images_sha256"]
    assert pd.read_csv(tmp_path / "m" / "measurements.csv").vacuole_count[0] >= 1


def test_settings_change_discards_old_parts(measured, tmp_path, monkeypatch):
    scan, _, _ = measured
    monkeypatch.setattr(R, "CHUNK", 4)
    parts = tmp_path / "m" / ".parts"
    parts.mkdir(parents=True)
    (parts / "settings.json").write_text('{"version": 0}')
    (parts / "part_000000.csv").write_text("stale")
    s = measure_scan(scan, tmp_path / "m", workers=1, pixel_size=0.12)
    assert s["measured_now"] == 7 and s["pixel_size_um"] == 0.12


def test_encoder_test_layout_and_cli(tmp_path, capsys):
    root = tmp_path / "et"
    save(root / "BAND" / "c1.png", drawn(0, cell_type="PN", nucleus_shape="band", n_lobes=1).image)
    save(root / "SEGMENTED" / "c1.png", drawn(1, cell_type="PN").image)
    out = tmp_path / "meas"
    assert main(["measure", "--images", str(root), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert "measured 2 images (encoder_test layout)" in capsys.readouterr().out
    assert (out / "encoder_test_encodings.npy").exists()
    meta = pd.read_csv(out / "encoder_test_metadata.csv", dtype=str)
    assert list(meta.columns) == ["GROUP", "IMAGE"] and meta["GROUP"].tolist() == ["BAND", "SEGMENTED"]
    assert not list(out.glob(".*"))


@pytest.mark.parametrize("args,msg", [(["--pixel-size", "0"], "--pixel-size"), (["--workers", "0"], "--workers"),
                                      (["--pixel-size", "nan"], "--pixel-size")])
def test_cli_range_checks(tmp_path, capsys, args, msg):
    with pytest.raises(SystemExit) as refused:  # refused where it is parsed
        main(["measure", "--images", str(tmp_path), "--out", str(tmp_path / "o"), *args])
    assert refused.value.code == 2 and msg in capsys.readouterr().err


def test_cli_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["measure", "--images", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "Traceback" not in err
