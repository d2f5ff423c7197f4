"""Masks of drawn cells match what was drawn; the quality flags of bad frames."""
import numpy as np
import pytest

from vexscreen.morphology import QUALITY_FLAGS, segment_cell
from vexscreen.morphology.calibration import pixel_size_from_red_cells, red_cell_diameters

from .conftest import drawn, iou, red_cells_only, two_touching_cells


@pytest.mark.parametrize("cell_type,shape,lobes", [("PN", "segmented", 3), ("PN", "band", 1),
                                                    ("MO", "kidney", 1), ("LY", "round", 1)])
@pytest.mark.parametrize("seed", [0, 1])
def test_masks_match_the_drawn_cell(cell_type, shape, lobes, seed):
    r = drawn(seed, cell_type=cell_type, nucleus_shape=shape, n_lobes=lobes)
    m = segment_cell(r.image)
    assert m.quality == "ok", m.reason
    assert iou(m.cell, r.masks["cell"]) > 0.85
    assert iou(m.nucleus, r.masks["nucleus"]) > 0.8
    assert not (m.cytoplasm & m.nucleus).any() and ((m.cytoplasm | m.nucleus) == m.cell).all()
    assert (m.cell & r.masks["rbc"] & ~r.masks["cell"]).sum() < 0.05 * r.masks["cell"].sum()  # red cells out


def test_red_cells_touching_the_leukocyte_are_cut_off():
    r = drawn(3, cell_type="PN", rbc_density=0.7)  # crowded: red cells press on the leukocyte
    m = segment_cell(r.image)
    assert m.quality == "ok"
    assert iou(m.cell, r.masks["cell"]) > 0.85


def test_blank_frame_and_red_cells_only_are_no_cell():
    blank = np.full((363, 360, 3), (252, 228, 202), np.uint8)
    assert segment_cell(blank).quality == "no_cell"
    assert segment_cell(np.zeros((363, 360, 3), np.uint8)).quality == "no_cell"  # all black
    m = segment_cell(red_cells_only())
    assert m.quality == "no_cell" and m.cell is None


def test_grey_frame_has_no_chromatin_colour():
    grey = drawn(0).image.mean(axis=2).astype(np.uint8)
    assert segment_cell(np.repeat(grey[..., None], 3, axis=2)).quality == "no_cell"


def test_two_touching_leukocytes_are_flagged():
    m = segment_cell(two_touching_cells())
    assert m.quality == "several_cells", m.reason


def test_cell_cut_by_the_frame_edge_is_flagged():
    r = drawn(0, cell_type="PN")
    cy, cx = (int(v.mean()) for v in np.nonzero(r.masks["cell"]))
    crop = r.image[cy - 50:cy + 170, cx - 110:cx + 110]  # the frame edge runs through the cell
    m = segment_cell(crop)
    assert m.quality == "cut_at_border", m.reason


def test_quality_flags_are_the_documented_ones():
    assert QUALITY_FLAGS == ("ok", "no_cell", "cut_at_border", "several_cells", "segmentation_failed")


def test_rejects_non_rgb_arrays():
    with pytest.raises(ValueError):
        segment_cell(np.zeros((10, 10), np.uint8))


def test_pixel_size_from_drawn_red_cells():
    """The drawn red cells have radius ~39 px: the calibration recovers their diameter."""
    d = red_cell_diameters(red_cells_only(seed=4, n=5))
    assert d and 70 < np.median(d) < 82
    assert pixel_size_from_red_cells([75.0]) == pytest.approx(0.1)
