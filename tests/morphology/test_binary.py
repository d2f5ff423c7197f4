"""The bounding-box shortcuts of binary.py and segment._block_mean give exactly the whole-frame results."""
import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.morphology import disk

from vexscreen.morphology import binary as B
from vexscreen.morphology.segment import _block_mean


def blobs(seed: int, shape=(90, 110), edge: bool = False) -> np.ndarray:
    """A few random discs and specks; ``edge``: one disc cut by the frame edge."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    m = np.zeros(shape, bool)
    for _ in range(3):
        cy, cx, r = rng.uniform(20, 70), rng.uniform(20, 90), rng.uniform(3, 14)
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    m &= rng.random(shape) > 0.05  # pinholes (holes to fill, ragged outline)
    if edge:
        m |= (yy - 2) ** 2 + (xx - 5) ** 2 <= 64
    return m


@pytest.mark.parametrize("seed,edge", [(0, False), (1, True), (2, True)])
@pytest.mark.parametrize("r", [1, 2, 3.5, 6])
def test_box_operations_equal_whole_frame(seed, edge, r):
    m = blobs(seed, edge=edge)
    k = int(round(r))
    if r <= 2:
        erode = ndi.binary_erosion(m, structure=disk(k), border_value=0)
        dilate = ndi.binary_dilation(m, structure=disk(k))
        opening = ndi.binary_opening(m, structure=disk(k))
    else:
        erode = ndi.distance_transform_edt(m) > r
        dilate = ndi.distance_transform_edt(~m) <= r
        opening = (ndi.distance_transform_edt(~erode) <= r) & m
    assert np.array_equal(B.erode(m, r), erode)
    assert np.array_equal(B.dilate(m, r), dilate)
    assert np.array_equal(B.opening(m, r), opening)
    assert np.array_equal(B.distance_within(m, r), ndi.distance_transform_edt(~m) <= r)
    assert np.array_equal(B.fill_holes(m), ndi.binary_fill_holes(m))


def test_box_operations_on_an_empty_mask():
    empty = np.zeros((20, 30), bool)
    for op in (lambda m: B.erode(m, 4), lambda m: B.dilate(m, 4), lambda m: B.dilate(m, 1), B.fill_holes):
        assert not op(empty).any()


def test_block_mean_is_bit_identical_to_the_reshape_mean():
    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, 0.4, (363, 360)).astype(np.float32)
    ref = a[:362, :360].reshape(181, 2, 180, 2).mean(axis=(1, 3))
    out = _block_mean(a)
    assert out.dtype == np.float32 and np.array_equal(out, ref)
