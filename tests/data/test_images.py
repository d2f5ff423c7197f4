"""Full-size dataset: centred black padding, content unchanged, explicit oversize policies."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vexscreen.data.errors import InputError
from vexscreen.data.images import FullSizeDataset, pad_to_square
from vexscreen.data.scan import scan_images

WBC = Path("/work/shared/data/wbc/neutrophil")


def noise(h, w, seed=0):
    return np.random.default_rng(seed).integers(1, 256, (h, w, 3), dtype=np.uint8)  # no zeros: border is detectable


def records(tmp_path, arrays):
    for i, a in enumerate(arrays):
        Image.fromarray(a, "RGB").save(tmp_path / f"im{i:02d}.png")
    return scan_images(tmp_path, progress=False).images


def test_pad_to_square_centres_and_keeps_content():
    a = noise(5, 8)
    out = pad_to_square(a, 11)
    assert out.shape == (11, 11, 3) and out.dtype == np.uint8
    top, left = (11 - 5) // 2, (11 - 8) // 2          # 3, 1
    assert (out[top:top + 5, left:left + 8] == a).all()
    mask = np.ones((11, 11), bool)
    mask[top:top + 5, left:left + 8] = False
    assert (out[mask] == 0).all()
    assert (pad_to_square(Image.fromarray(a), 11) == out).all()   # PIL input too
    assert (pad_to_square(a, 8)[1:6] == a).all()                     # exact fit on one side
    with pytest.raises(ValueError, match="larger than 7x7"):
        pad_to_square(a, 7)
    with pytest.raises(ValueError, match="H x W x 3"):
        pad_to_square(a[..., 0], 11)


def test_dataset_small_images_padded_to_full_size(tmp_path):
    arrays = [noise(30, 40, 1), noise(21, 17, 2)]
    ds = FullSizeDataset(records(tmp_path, arrays), full_size=64)
    assert len(ds) == 2 and ds.output_size == 64 and ds.oversize_count == 0
    for i, a in enumerate(arrays):
        x, idx = ds[i]
        assert idx == i and x.dtype == torch.float32 and tuple(x.shape) == (3, 64, 64)
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        h, w = a.shape[:2]
        top, left = (64 - h) // 2, (64 - w) // 2
        inner = x[:, top:top + h, left:left + w]
        assert torch.equal(inner, torch.from_numpy(a).permute(2, 0, 1).float() / 255)
        assert float(x.sum()) == pytest.approx(float(inner.sum()), rel=1e-6)   # black border
    batch, idx = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert tuple(batch.shape) == (2, 3, 64, 64) and idx.tolist() == [0, 1]


def test_oversize_pad_grows_the_canvas_and_cuts_nothing(tmp_path):
    arrays = [noise(20, 20, 1), noise(50, 36, 2), noise(30, 45, 3)]
    ds = FullSizeDataset(records(tmp_path, arrays), full_size=40, oversize="pad")
    assert ds.oversize_count == 2 and ds.output_size == 50 and ds.cropped_count == 0
    x = ds.array(1)
    assert x.shape == (50, 50, 3)
    assert (x[:, 7:43] == arrays[1]).all()            # whole image present


def test_oversize_resize_shrinks_keeping_aspect(tmp_path):
    big = np.full((40, 80, 3), 200, np.uint8)        # 80 wide x 40 high, uniform
    ds = FullSizeDataset(records(tmp_path, [big, noise(10, 10)]), full_size=32, oversize="resize")
    assert ds.oversize_count == 1 and ds.resized_count == 1 and ds.output_size == 32
    x = ds.array(0)
    rows, cols = np.nonzero(x[..., 0])
    assert (cols.min(), cols.max() + 1) == (0, 32)   # width fills the square
    assert (rows.min(), rows.max() + 1) == (8, 24)   # 16 rows (aspect 2:1 kept), centred
    assert abs(int(x[16, 16, 0]) - 200) <= 1
    small = ds.array(1)
    assert (small[11:21, 11:21] == noise(10, 10)).all()   # small images are not resized


def test_oversize_crop_is_counted_and_centred(tmp_path):
    a = noise(40, 30, 4)
    ds = FullSizeDataset(records(tmp_path, [a, noise(10, 10)]), full_size=24, oversize="crop")
    assert ds.oversize_count == 1 and ds.cropped_count == 1 and ds.output_size == 24
    x = ds.array(0)
    assert (x == a[8:32, 3:27]).all()


def test_bad_policy_and_changed_file(tmp_path):
    recs = records(tmp_path, [noise(10, 12)])
    with pytest.raises(ValueError, match="oversize must be one of"):
        FullSizeDataset(recs, oversize="squash")
    Image.fromarray(noise(11, 12)).save(recs[0].path)   # file replaced after the scan
    with pytest.raises(InputError, match="changed") as e:
        FullSizeDataset(recs, full_size=16)[0]
    assert e.value.path == str(recs[0].path)


def test_real_neutrophil_default_pad(tmp_path):
    for f in sorted(WBC.glob("*.jpg"))[:2]:
        shutil.copy(f, tmp_path / f.name)
    ds = FullSizeDataset(scan_images(tmp_path, progress=False).images)   # full_size 272
    assert ds.oversize_count == 2
    assert ds.output_size == max(max(r.width, r.height) for r in ds.records) >= 363
    x, _ = ds[0]
    assert tuple(x.shape) == (3, ds.output_size, ds.output_size) and float(x[:, 0, 0].sum()) == 0.0
    crop = FullSizeDataset(ds.records, oversize="crop")
    assert crop.output_size == 272 and crop.cropped_count == 2
