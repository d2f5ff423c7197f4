"""Scanner: layouts, every bad-file kind, RGB conversion policy, strict mode, CLI."""
from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vexscreen.cli import main
from vexscreen.exceptions import InputError
from vexscreen.data.scan import IMAGE_SUFFIXES, BadFile, ImageRecord, load_rgb, scan_images

WBC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wbc" / "neutrophil"


def _need_wbc():
    if not WBC.is_dir():
        pytest.skip(f"{WBC} not available")
RNG = np.random.default_rng(0)


def rgb(path: Path, w=20, h=16, value=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8) if value is None else np.full((h, w, 3), value, np.uint8)
    Image.fromarray(a, "RGB").save(path)
    return path


def raw_png(path: Path, w: int, h: int, colour_type: int, bit_depth: int, rows: np.ndarray) -> Path:
    """Write a PNG by hand (Pillow cannot write 48-bit RGB)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + rows[i].astype(">u2").tobytes() for i in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def labeled_tree(root: Path) -> Path:
    for g, p, s, n in [("VEXAS", "P1", "S1", 2), ("VEXAS", "P1", "S2", 1), ("MDS", "P2", "S3", 3)]:
        for i in range(n):
            rgb(root / g / p / s / f"c{i}.png")
    return root


def reason_of(result, name: str) -> str:
    hits = [b.reason for b in result.bad if b.path.name == name]
    assert len(hits) == 1, (name, result.bad)
    return hits[0]


# ----------------------------------------------------------------------------- layouts

def test_labeled_layout_metadata_and_sorted_order(tmp_path):
    r = scan_images(labeled_tree(tmp_path), progress=False)
    assert r.layout == "labeled" and r.bad == []
    assert [x.rel for x in r.images] == sorted(x.rel for x in r.images)
    m = r.metadata()
    assert list(m.columns) == ["PATIENT", "SAMPLE", "GROUP", "IMAGE"]
    assert m["IMAGE"].iloc[0] == "MDS/P2/S3/c0.png"
    assert m.iloc[0][["PATIENT", "SAMPLE", "GROUP"]].tolist() == ["P2", "S3", "MDS"]
    assert (m.groupby("GROUP").size().to_dict()) == {"MDS": 3, "VEXAS": 3}
    rec = r.images[0]
    assert rec.path.is_absolute() and (rec.width, rec.height, rec.mode, rec.note) == (20, 16, "RGB", "")
    s = r.summary()
    assert "VEXAS: 1 patients, 2 samples, 3 images" in s
    assert "VEXAS/P1: 2 samples, 3 images (S1 2, S2 1)" in s
    assert "most common: 20x16 (6)" in s


def test_order_is_deterministic_not_creation_order(tmp_path):
    for name in ["z.png", "a.png", "M.png", "b10.png", "b2.png"]:
        rgb(tmp_path / name)
    r1 = scan_images(tmp_path, progress=False)
    r2 = scan_images(tmp_path, progress=False)
    assert [x.rel for x in r1.images] == ["M.png", "a.png", "b10.png", "b2.png", "z.png"]
    assert r1.images == r2.images


def test_encoder_test_layout_skips_root_manifests(tmp_path):
    for g in ["LY", "MO"]:
        rgb(tmp_path / g / "x.jpg")
    for name in ["labels.csv", "SOURCE.md", "truth.csv", "info.json"]:
        (tmp_path / name).write_text("meta\n")
    (tmp_path / "LY" / "labels.csv").write_text("not at the root\n")
    r = scan_images(tmp_path, progress=False)
    assert r.layout == "encoder_test"
    assert list(r.metadata().columns) == ["GROUP", "IMAGE"]
    assert r.metadata()["GROUP"].tolist() == ["LY", "MO"]
    # only the csv below the root is listed; root manifests are skipped
    assert [b.path.relative_to(tmp_path).as_posix() for b in r.bad] == ["LY/labels.csv"]
    assert "not an image suffix" in r.bad[0].reason


def test_flat_layout_real_neutrophils(tmp_path):
    _need_wbc()
    for f in sorted(WBC.glob("*.jpg"))[:3]:
        shutil.copy(f, tmp_path / f.name.upper().replace(".JPG", ".JPG"))
    r = scan_images(tmp_path, progress=False)
    assert r.layout == "flat" and len(r.images) == 3 and r.bad == []
    assert list(r.metadata().columns) == ["IMAGE"]
    assert {(x.width, x.height) for x in r.images} <= {(360, 363), (366, 369)}
    assert all(x.group is None and x.patient is None for x in r.images)
    assert "larger than 272 px" in r.summary()


def test_mixed_depths_error_names_offending_file(tmp_path):
    labeled_tree(tmp_path)
    rgb(tmp_path / "VEXAS" / "stray.png")
    with pytest.raises(InputError, match="mixed folder depths") as e:
        scan_images(tmp_path, progress=False)
    assert e.value.path == str(tmp_path.resolve() / "VEXAS" / "stray.png")


def test_unknown_depth_is_an_error(tmp_path):
    rgb(tmp_path / "a" / "b" / "c.png")
    with pytest.raises(InputError, match="depth 3"):
        scan_images(tmp_path, progress=False)


def test_explicit_layout_lists_wrong_depth_files_as_bad(tmp_path):
    labeled_tree(tmp_path)
    rgb(tmp_path / "VEXAS" / "stray.png")
    r = scan_images(tmp_path, layout="labeled", progress=False)
    assert len(r.images) == 6
    assert "depth 2" in reason_of(r, "stray.png")
    with pytest.raises(InputError, match="unknown layout"):
        scan_images(tmp_path, layout="nested", progress=False)


def test_empty_missing_and_imageless_roots(tmp_path):
    with pytest.raises(InputError, match="empty folder"):
        scan_images(tmp_path, progress=False)
    with pytest.raises(InputError, match="no such folder"):
        scan_images(tmp_path / "nope", progress=False)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="no image files"):
        scan_images(tmp_path, progress=False)
    f = rgb(tmp_path / "x.png")
    with pytest.raises(InputError, match="not a folder"):
        scan_images(f, progress=False)


# ----------------------------------------------------------------------------- bad files

@pytest.fixture
def messy(tmp_path):
    """A flat folder with one good image and one file of every bad kind."""
    _need_wbc()
    rgb(tmp_path / "good.png")
    jpg = tmp_path / "trunc.jpg"
    shutil.copy(sorted(WBC.glob("*.jpg"))[0], jpg)
    data = jpg.read_bytes()
    jpg.write_bytes(data[: len(data) // 2])
    png = rgb(tmp_path / "trunc.png", w=64, h=64)
    data = png.read_bytes()
    png.write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("this is not an image\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    return tmp_path


def test_every_bad_kind_is_listed_with_its_reason(messy):
    r = scan_images(messy, progress=False)
    assert [x.rel for x in r.images] == ["good.png"]
    assert "truncated" in reason_of(r, "trunc.jpg")
    assert "truncated" in reason_of(r, "trunc.png") or "corrupt" in reason_of(r, "trunc.png")
    assert "empty file (0 bytes)" in reason_of(r, "empty.jpg")
    assert "not an image" in reason_of(r, "text.png")
    assert "not an image suffix (.txt" in reason_of(r, "notes.txt")
    assert "not an image suffix" in reason_of(r, ".DS_Store")
    assert len(r.bad) == 6
    s = r.summary()
    assert "bad files, skipped (6)" in s
    for b in r.bad:
        assert b.path.name in s and b.reason in s


def test_strict_raises_naming_every_bad_file(messy):
    with pytest.raises(InputError, match="6 bad file") as e:
        scan_images(messy, strict=True, progress=False)
    for name in ["trunc.jpg", "trunc.png", "empty.jpg", "text.png", "notes.txt", ".DS_Store"]:
        assert name in str(e.value)


def test_all_bad_is_an_error_even_without_strict(tmp_path):
    (tmp_path / "a.png").write_text("nope")
    with pytest.raises(InputError, match="(?s)no usable images.*a.png"):
        scan_images(tmp_path, progress=False)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="running as root: file permissions do not stop reads")
def test_unreadable_file(tmp_path):
    rgb(tmp_path / "ok.png")
    f = rgb(tmp_path / "locked.png")
    f.chmod(0)
    try:
        r = scan_images(tmp_path, progress=False)
        assert "permission denied" in reason_of(r, "locked.png")
    finally:
        f.chmod(0o644)


# ----------------------------------------------------------------------------- conversion policy

def test_grayscale_and_opaque_alpha_are_converted(tmp_path):
    g = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    Image.fromarray(g, "L").save(tmp_path / "gray.png")
    a = RNG.integers(0, 256, (12, 10, 4), dtype=np.uint8)
    a[..., 3] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "opaque.png")
    Image.fromarray(np.stack([g, np.full_like(g, 255)], -1), "LA").save(tmp_path / "la.png")
    Image.new("CMYK", (10, 12), (0, 255, 0, 0)).save(tmp_path / "cmyk.jpg")
    r = scan_images(tmp_path, progress=False)
    assert r.bad == []
    by = {x.rel: x for x in r.images}
    assert by["gray.png"].mode == "L" and "converted from L" in by["gray.png"].note
    assert by["opaque.png"].mode == "RGBA" and "fully opaque" in by["opaque.png"].note
    assert by["la.png"].mode == "LA" and by["cmyk.jpg"].mode == "CMYK"
    out = np.asarray(load_rgb(tmp_path / "gray.png"))
    assert out.shape == (12, 10, 3) and (out == g[..., None]).all()
    out = np.asarray(load_rgb(tmp_path / "opaque.png"))
    assert (out == a[..., :3]).all()
    assert "converted from RGBA (fully opaque)" in r.summary()


def test_transparency_is_refused(tmp_path):
    a = np.full((8, 8, 4), 200, np.uint8)
    a[..., 3] = 255
    a[0, 0, 3] = 0
    Image.fromarray(a, "RGBA").save(tmp_path / "holes.png")
    Image.new("P", (8, 8), 0).save(tmp_path / "pal.png", transparency=0)
    rgb(tmp_path / "ok.png")
    r = scan_images(tmp_path, progress=False)
    assert "real transparency (1.6% of pixels" in reason_of(r, "holes.png")
    assert "transparency" in reason_of(r, "pal.png")
    with pytest.raises(InputError, match="transparency") as e:
        load_rgb(tmp_path / "holes.png")
    assert e.value.path == str(tmp_path / "holes.png")


def test_sixteen_bit_policy_lossless_only(tmp_path):
    small = np.arange(64, dtype=np.uint16).reshape(8, 8) * 4             # <= 255: cast
    scaled = small.astype(np.uint16) * 257                               # v*257: divide
    real = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000 + 1       # true 16-bit: refuse
    for name, arr in [("small.png", small), ("scaled.png", scaled), ("real.png", real)]:
        Image.fromarray(arr).save(tmp_path / name)
    raw_png(tmp_path / "rgb48.png", 4, 4, 2, 16, RNG.integers(0, 65536, (4, 12)))
    r = scan_images(tmp_path, progress=False)
    by = {x.rel: x for x in r.images}
    assert set(by) == {"small.png", "scaled.png"}
    assert by["small.png"].mode.startswith("I") and "lossless" in by["small.png"].note
    assert (np.asarray(load_rgb(tmp_path / "small.png"))[..., 1] == small).all()
    assert (np.asarray(load_rgb(tmp_path / "scaled.png"))[..., 0] == small).all()
    assert "no lossless 8-bit mapping" in reason_of(r, "real.png")
    assert "16 bits per channel" in reason_of(r, "rgb48.png")


def test_load_rgb_names_the_file(tmp_path):
    (tmp_path / "t.png").write_text("text")
    with pytest.raises(InputError) as e:
        load_rgb(tmp_path / "t.png")
    assert str(tmp_path / "t.png") in str(e.value) and "not an image" in str(e.value)
    assert load_rgb(rgb(tmp_path / "ok.jpg")).mode == "RGB"


def test_suffixes_case_insensitive(tmp_path):
    rgb(tmp_path / "A.PNG")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "b.TIF")
    assert ".tif" in IMAGE_SUFFIXES
    assert [x.rel for x in scan_images(tmp_path, progress=False).images] == ["A.PNG", "b.TIF"]


def test_labeled_summary_warns_on_ambiguous_labels(tmp_path):
    rgb(tmp_path / "VEXAS" / "P1" / "S1" / "a.png")
    rgb(tmp_path / "MDS" / "P2" / "S1" / "a.png")
    rgb(tmp_path / "MDS" / "P1" / "S9" / "a.png")
    s = scan_images(tmp_path, progress=False).summary()
    assert "patient P1 appears in several groups: MDS, VEXAS" in s
    assert "sample name(s) used by several patients (e.g. S1)" in s


# ----------------------------------------------------------------------------- CLI

def test_cli_ok_strict_and_csv(messy, tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("o") / "meta.csv"
    assert main(["scan", str(messy), "--no-progress", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bad files, skipped (6)" in printed and "trunc.jpg" in printed
    assert out.read_text().splitlines() == ["IMAGE", "good.png"]
    assert main(["scan", str(messy), "--strict", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "vexscreen scan: error" in err and "trunc.png" in err and "empty.jpg" in err


def test_cli_layout_option(tmp_path, capsys):
    labeled_tree(tmp_path)
    rgb(tmp_path / "VEXAS" / "stray.png")
    assert main(["scan", str(tmp_path), "--no-progress"]) == 2
    assert "stray.png" in capsys.readouterr().err
    assert main(["scan", str(tmp_path), "--layout", "labeled", "--no-progress"]) == 0
    assert "stray.png: at folder depth 2" in capsys.readouterr().out


def test_records_are_frozen():
    rec = ImageRecord(Path("/x.png"), "x.png", None, None, None, 1, 1, "RGB")
    with pytest.raises(AttributeError):
        rec.width = 2  # type: ignore[misc]
    assert BadFile(Path("/x"), "r").reason == "r"


def test_symlinked_folders_followed_once(tmp_path):
    data = tmp_path / "data"
    rgb(data / "LY" / "a.png")
    rgb(tmp_path / "elsewhere" / "b.png")
    (data / "MO").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (data / "LY" / "loop").symlink_to(data / "LY", target_is_directory=True)
    r = scan_images(data, layout="encoder_test", progress=False)
    assert [x.rel for x in r.images] == ["LY/a.png", "MO/b.png"]
    assert len(r.bad) == 1 and "already scanned" in r.bad[0].reason and r.bad[0].path.name == "loop"


def test_warns_when_truncation_cannot_be_detected(messy, monkeypatch):
    from PIL import ImageFile
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.warns(RuntimeWarning, match="LOAD_TRUNCATED_IMAGES"):
        scan_images(messy, progress=False)
