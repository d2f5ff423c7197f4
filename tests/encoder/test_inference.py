"""encode: row order and metadata match the scan; identical encodings across runs and batch sizes;
oversize handling; the encoder's geometry followed. (Bad encoder files: test_encoder_file.py.)"""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from vexscreen.cli import main
from vexscreen.exceptions import InputError
from vexscreen.data.scan import scan_images
from vexscreen.encoder.backbones import build_backbone
from vexscreen.encoder.config import Geometry
from vexscreen.encoder.encoder_file import load_encoder, save_encoder
from vexscreen.encoder.inference import FullSizeImages, encode_dataset, encode_scan

from .conftest import write_images


@pytest.fixture
def encoder_pt(tmp_path):
    torch.manual_seed(43)
    path = tmp_path / "encoder.pt"
    save_encoder(path, build_backbone("resnet18"), Geometry(full_size=48, crop=32))
    return path


def test_encode_rows_follow_the_scan(labeled_dir, encoder_pt, tmp_path):
    out = tmp_path / "enc"
    assert main(["encode", "--encoder", str(encoder_pt), "--images", str(labeled_dir), "--out", str(out),
                 "--batch-size", "3", "--workers", "0", "--no-progress"]) == 0
    X = np.load(out / "encodings.npy")
    meta = pd.read_csv(out / "metadata.csv", dtype=str)
    scan = scan_images(labeled_dir, progress=False)
    assert list(meta.columns) == ["PATIENT", "SAMPLE", "GROUP", "IMAGE"]
    pd.testing.assert_frame_equal(meta, scan.metadata().astype(str))
    assert X.shape == (len(scan.images), 512) and X.dtype == np.float32
    # row i is image i: encode images 5 and 0 alone (at the set's padded size) and compare
    enc, _ = load_encoder(encoder_pt)
    side = max(max(r.width, r.height) for r in scan.images)
    for i in (5, 0):
        one = encode_dataset(enc, FullSizeImages([scan.images[i].path], [(scan.images[i].width,
                             scan.images[i].height)], side), batch_size=1, progress=False)
        np.testing.assert_allclose(X[i], one[0], rtol=1e-4, atol=1e-5)
    assert not list(out.glob(".*"))  # no temp files left behind


def test_encoder_test_and_flat_layouts(tmp_path, encoder_pt, flat_dir):
    et = tmp_path / "et"
    write_images([et / g / f"{g}{i}.png" for g in ("band", "segmented") for i in range(3)])
    s = encode_scan(encoder_pt, scan_images(et, progress=False), tmp_path / "o1", workers=0, progress=False)
    assert s["files"] == ["encoder_test_encodings.npy", "encoder_test_metadata.csv"]
    meta = pd.read_csv(tmp_path / "o1" / "encoder_test_metadata.csv")
    assert list(meta.columns) == ["GROUP", "IMAGE"] and list(meta["GROUP"]) == ["band"] * 3 + ["segmented"] * 3
    encode_scan(encoder_pt, scan_images(flat_dir, progress=False), tmp_path / "o2", workers=0, progress=False)
    assert list(pd.read_csv(tmp_path / "o2" / "metadata.csv").columns) == ["IMAGE"]


def test_same_image_same_encoding_across_runs_and_batch_sizes(flat_dir, encoder_pt, tmp_path):
    scan = scan_images(flat_dir, progress=False)
    outs = []
    for i, (bs, workers) in enumerate([(1, 0), (8, 0), (3, 2), (3, 0)]):
        encode_scan(encoder_pt, scan, tmp_path / f"o{i}", batch_size=bs, workers=workers, progress=False)
        outs.append(np.load(tmp_path / f"o{i}" / "encodings.npy"))
    for other in outs[1:]:
        np.testing.assert_allclose(outs[0], other, rtol=1e-4, atol=1e-5)


def test_oversize_policies(tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (60, 50), (255, 255, 255)).save(big)
    small = tmp_path / "small.png"
    Image.new("RGB", (30, 20), (255, 255, 255)).save(small)
    sizes = [(60, 50), (30, 20)]
    pad = FullSizeImages([big, small], sizes, full_size=40, oversize="pad")
    assert pad.oversize_count == 1 and pad.output_size == 60
    x, _ = pad[0]
    assert x.shape == (3, 60, 60) and float(x.sum()) == 3 * 60 * 50  # nothing cut
    assert "1 of 2 images larger than 40 px" in pad.describe() and "60 x 60" in pad.describe()
    rs = FullSizeImages([big, small], sizes, full_size=40, oversize="resize")
    x, _ = rs[0]
    assert x.shape == (3, 40, 40) and x[:, :, 0].sum() > 0  # fills the width: whole, smaller
    cr = FullSizeImages([big, small], sizes, full_size=40, oversize="crop")
    x, _ = cr[0]
    assert x.shape == (3, 40, 40) and float(x.sum()) == 3 * 40 * 40
    x, _ = cr[1]
    assert float(x.sum()) == 3 * 30 * 20  # small images are only padded


def test_scale_in_config_is_applied(tmp_path, flat_dir):
    torch.manual_seed(0)
    path = tmp_path / "e.pt"
    save_encoder(path, build_backbone("resnet18"), Geometry(full_size=20, crop=16, scale=0.5))
    scan = scan_images(flat_dir, progress=False)
    sides = [max(round(r.width * 0.5), round(r.height * 0.5)) for r in scan.images]
    s = encode_scan(path, scan, tmp_path / "o", workers=0, progress=False)
    assert s["scale"] == 0.5 and s["input_size"] == max(sides) > 20  # the 36-49 px images are halved
    assert s["oversize_images"] == sum(x > 20 for x in sides) > 0


def test_field_encoder_encodes_its_field(tmp_path, flat_dir):
    """An encoder trained on a centred field sees that field at encode time (Geometry in encoder.pt),
    unless the caller chooses otherwise."""
    torch.manual_seed(0)
    path = tmp_path / "f.pt"
    save_encoder(path, build_backbone("resnet18"), Geometry(full_size=96, field=40, crop=32))
    scan = scan_images(flat_dir, progress=False)
    s = encode_scan(path, scan, tmp_path / "o", workers=0, progress=False)
    assert (s["full_size"], s["oversize"], s["input_size"], s["field"]) == (40, "crop", 40, 40)
    assert s["treatment"].startswith("the encoder's centred 40 x 40 field")
    assert s["oversize_images"] == sum(max(r.width, r.height) > 40 for r in scan.images) > 0
    s = encode_scan(path, scan, tmp_path / "o2", full_size=64, oversize="pad", workers=0, progress=False)
    assert (s["full_size"], s["oversize"], s["input_size"]) == (64, "pad", 64)


def test_progress_is_the_caller_s(flat_dir, encoder_pt, capsys):
    """No output unless asked; a callable receives the running count after each batch."""
    enc, _ = load_encoder(encoder_pt)
    scan = scan_images(flat_dir, progress=False)
    ds = FullSizeImages([r.path for r in scan.images], [(r.width, r.height) for r in scan.images], 48)
    counts = []
    encode_dataset(enc, ds, batch_size=3, progress=lambda desc, done, total: counts.append((desc, done, total)))
    assert counts == [("encode", 3, 8), ("encode", 6, 8), ("encode", 8, 8)]
    encode_dataset(enc, ds, batch_size=3)
    assert capsys.readouterr() == ("", "")


def test_encode_errors_name_the_input(encoder_pt, tmp_path, capsys):
    assert main(["encode", "--encoder", str(tmp_path / "nope.pt"), "--images", str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 2
    assert "nope.pt" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["encode", "--encoder", str(encoder_pt), "--images", str(empty), "--out",
                 str(tmp_path / "o")]) == 2
    assert str(empty) in capsys.readouterr().err


def test_padding_is_centred_and_keeps_content():
    from vexscreen.encoder.transforms import center_pad
    import torch

    img = torch.arange(1, 3 * 5 * 4 + 1, dtype=torch.float32).reshape(3, 5, 4)
    out = center_pad(img, 11)
    assert out.shape == (3, 11, 11)
    assert torch.equal(out[:, 3:8, 3:7], img)          # (11-5)//2 = 3 rows, (11-4)//2 = 3 cols
    assert float(out.sum()) == float(img.sum())         # the border is black
