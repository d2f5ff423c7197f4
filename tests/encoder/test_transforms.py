"""The two views differ, and keep the image content."""
import numpy as np
import pytest
import torch

from vexscreen.encoder.transforms import TwoViews, center_pad, rescale


def _disc(size=20, radius=6):
    yy, xx = np.mgrid[:size, :size]
    a = np.zeros((3, size, size), np.uint8)
    a[:, (yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2 < radius ** 2] = 200
    a[0, size // 2 - 2: size // 2 + 2, size // 2: size // 2 + 5] = 50  # asymmetric mark
    return torch.from_numpy(a)


def test_views_have_crop_size_and_differ():
    torch.manual_seed(0)
    img = torch.randint(0, 255, (3, 50, 60), dtype=torch.uint8)
    v1, v2 = TwoViews(crop=32)(img)
    assert v1.shape == v2.shape == (3, 32, 32)
    assert v1.dtype == torch.float32 and 0 <= float(v1.min()) and float(v1.max()) <= 1
    assert not torch.allclose(v1, v2)


def test_small_image_is_padded_centred_and_kept_whole():
    torch.manual_seed(1)
    img = _disc(20)
    mass = img.float().sum() / 255
    views = TwoViews(crop=32)
    for _ in range(10):
        v = views.one(img)
        assert v.shape == (3, 32, 32)
        # rotation/flip/pad only move the content: its total intensity stays (bilinear: within 3%)
        assert abs(float(v.sum()) - float(mass)) < 0.03 * float(mass)
        # the 6-px border of the 32-px view is the black padding (the 20-px image sits in the middle)
        assert float(v[:, :5].sum()) == 0 and float(v[:, -5:].sum()) == 0


def test_no_rotation_view_is_a_flip_of_the_padded_image():
    torch.manual_seed(2)
    img = _disc(20)
    v = (TwoViews(crop=32, rotation=0).one(img) * 255).round().to(torch.uint8)
    padded = center_pad(img, 32)
    candidates = [padded, padded.flip(-1), padded.flip(-2), padded.flip(-1).flip(-2)]
    assert any(torch.equal(v, c) for c in candidates)


def test_center_pad_and_rescale():
    img = torch.ones(3, 10, 14, dtype=torch.uint8)
    p = center_pad(img, 16)
    assert p.shape == (3, 16, 16) and int(p.sum()) == 3 * 10 * 14
    assert int(p[0, 3:13, 1:15].sum()) == 140
    assert rescale(img, 0.5).shape == (3, 5, 7)
    assert rescale(img, 1.0) is img


def test_colour_jitter_is_off_by_default_and_changes_colour_when_on():
    import torch

    from vexscreen.encoder.transforms import TwoViews

    img = torch.empty(3, 64, 64, dtype=torch.uint8)
    img[0], img[1], img[2] = 200, 100, 50
    torch.manual_seed(0)
    plain = [TwoViews(16)(img)[0][:, 8, 8] for _ in range(10)]   # centre pixel, inside the cell
    assert all(torch.allclose(v, torch.tensor([200, 100, 50]) / 255.0) for v in plain)
    jittered = [TwoViews(16, color_jitter=1.0)(img)[0][:, 8, 8] for _ in range(10)]
    assert any(not torch.allclose(v, torch.tensor([200, 100, 50]) / 255.0, atol=0.02) for v in jittered)


def test_field_views_come_from_the_centred_square_only():
    """--field: whatever the rotation and crop position, no view pixel comes from outside the
    centred field (red outside a green disc that holds the 48 x 48 field at any rotation is
    never seen)."""
    torch.manual_seed(0)
    img = torch.zeros(3, 120, 100, dtype=torch.uint8)
    img[0] = 255                                      # red everywhere ...
    yy, xx = torch.meshgrid(torch.arange(120) - 59.5, torch.arange(100) - 49.5, indexing="ij")
    disc = yy ** 2 + xx ** 2 < 36 ** 2                # ... but a green disc of radius 36 > 48 / sqrt(2)
    img[0][disc], img[1][disc] = 0, 255
    views = TwoViews(crop=32, field=48)
    for _ in range(20):
        v = views.one(img)
        assert v.shape == (3, 32, 32)
        assert float(v[0].max()) < 0.5, "a view reached outside the field"
    with pytest.raises(ValueError, match="--field 48 is smaller than --crop 64"):
        TwoViews(crop=64, field=48)
    # without a field the frame is seen
    assert max(float(TwoViews(crop=32).one(img)[0].max()) for _ in range(20)) > 0.9


def test_encode_geometry_follows_the_field():
    from vexscreen.encoder.config import Geometry

    assert Geometry(full_size=272).for_encoding() == (272, "pad")
    assert Geometry(full_size=272, field=192).for_encoding() == (192, "crop")
    assert Geometry(full_size=272, field=192).for_encoding(300, "pad") == (300, "pad")
    assert Geometry(full_size=272, field=192).for_encoding(300) == (300, "crop")


def test_local_crop_makes_the_second_view_a_smaller_patch_of_the_same_field():
    torch.manual_seed(0)
    img = _disc(size=80, radius=30)
    v1, v2 = TwoViews(crop=48, field=64, local_crop=24)(img)
    assert v1.shape == (3, 48, 48) and v2.shape == (3, 24, 24)
    with pytest.raises(ValueError, match="--local-crop 64 must be between"):
        TwoViews(crop=48, local_crop=64)


def test_multi_crop_gives_two_whole_views_and_k_patches():
    torch.manual_seed(0)
    views = TwoViews(crop=48, field=64, local_crop=24, n_local=3)(_disc(size=80, radius=30))
    assert [tuple(v.shape) for v in views] == [(3, 48, 48)] * 2 + [(3, 24, 24)] * 3
    with pytest.raises(ValueError, match="--n-local needs --local-crop"):
        TwoViews(crop=48, n_local=2)
