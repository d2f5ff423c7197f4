"""The vacuole detector: drawn vacuoles are counted and sized; the documented false positives
(a pale notch at the outline, a pale spot against the nucleus, a faint pale patch) are not."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from vexscreen.morphology import VacuoleParams, detect_vacuoles, measure_cell, segment_cell

from .conftest import drawn


def punch(image, cy, cx, r, glass, depth=0.9):
    """A sharp round hole: the pixels within r px of (cy, cx) moved ``depth`` of the way to the glass."""
    out = image.astype(np.float32).copy()
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    out[inside] += depth * (np.asarray(glass, np.float32) - out[inside])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def spot_at(masks, dist_from_edge=None, dist_from_nucleus=None):
    """A cytoplasm pixel at about the given distances (px) from the outline and from the nucleus
    (None: as far as possible from both)."""
    to_edge = ndi.distance_transform_edt(masks.cell)
    to_nuc = ndi.distance_transform_edt(~masks.nucleus)
    if dist_from_edge is None:
        score = -np.minimum(to_edge, to_nuc)
    else:
        score = np.abs(to_edge - dist_from_edge) + np.abs(to_nuc - dist_from_nucleus)
    score[~masks.cytoplasm] = np.inf
    return np.unravel_index(np.argmin(score), score.shape)


@pytest.mark.parametrize("cell_type,shape,lobes", [("PN", "segmented", 3), ("MO", "kidney", 1)])
def test_drawn_vacuoles_counted_and_none_on_clean_cells(cell_type, shape, lobes):
    for seed in range(4):
        spec = dict(cell_type=cell_type, nucleus_shape=shape, n_lobes=lobes)
        vac = drawn(seed, n_vacuoles=2, vacuole_radius=6.0, **spec)
        row = measure_cell(vac.image)
        assert 1 <= row["vacuole_count"] <= vac.drawn["n_vacuoles_drawn"]
        largest = 2 * max(float(v) for v in vac.drawn["vacuole_radii"].split(";")) * 0.1  # um at 0.1 um/px
        assert row["vacuole_max_diameter_um"] == pytest.approx(largest, abs=0.4)
        assert measure_cell(drawn(seed, **spec).image)["vacuole_count"] == 0


def test_punched_hole_found_but_not_a_notch_or_a_spot_at_the_nucleus():
    r = drawn(0, cell_type="PN")
    m = segment_cell(r.image)
    glass = m.background
    cy, cx = spot_at(m)
    assert ndi.distance_transform_edt(~m.nucleus)[cy, cx] > 12 and ndi.distance_transform_edt(m.cell)[cy, cx] > 12
    hole = punch(r.image, cy, cx, 6, glass)
    v = detect_vacuoles(hole, m.cell, m.nucleus, glass, 0.1)
    assert len(v) == 1 and abs(v[0].y - cy) < 2 and abs(v[0].x - cx) < 2
    assert v[0].diameter_um == pytest.approx(1.3, abs=0.3)
    ey, ex = spot_at(m, 2, 30)  # straddling the outline: a notch open to the glass
    assert detect_vacuoles(punch(r.image, ey, ex, 6, glass), m.cell, m.nucleus, glass, 0.1) == []
    ny, nx = spot_at(m, 25, 2)  # against the nucleus
    assert detect_vacuoles(punch(r.image, ny, nx, 6, glass), m.cell, m.nucleus, glass, 0.1) == []
    faint = punch(r.image, cy, cx, 6, glass, depth=0.4)  # a pale patch, far from glass-pale
    assert detect_vacuoles(faint, m.cell, m.nucleus, glass, 0.1) == []
    tiny = punch(r.image, cy, cx, 2, glass)  # 0.4 um: below the size limit
    assert detect_vacuoles(tiny, m.cell, m.nucleus, glass, 0.1) == []


def faded(image, cy, cx, glass, inner=4, outer=9, halo=0.4, depth=0.9):
    """A pale spot that fades out: a centre ``inner`` px across moved ``depth`` of the way to the
    glass, inside a halo ``outer`` px across moved ``halo`` of the way (a pale patch, a gap between
    granules opening onto paler cytoplasm), blurred like the frames' optics."""
    out = image.astype(np.float32).copy()
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    d = np.hypot(yy - cy, xx - cx)
    w = ndi.gaussian_filter(np.where(d <= inner, depth, np.where(d <= outer, halo, 0.0)), 1.0)[..., None]
    out += w * (np.asarray(glass, np.float32) - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def test_plateau_tells_a_punched_hole_from_a_faded_spot():
    """The punched-out test (``min_plateau``): a hole blurred like the frames' optics keeps a flat
    floor inside a steep wall; a pale spot of the same size that fades out through a pale halo
    does not."""
    from vexscreen.morphology.vacuoles import plateau

    yy, xx = np.mgrid[:60, :60]
    d = np.hypot(yy - 30, xx - 30)
    cyto = np.ones((60, 60), bool)
    hole = ndi.gaussian_filter(np.where(d <= 5, 220.0, 160.0), 1.0)
    fade = ndi.gaussian_filter(160.0 + 25 * (d <= 9) + 35 * (d <= 4), 1.0)
    m_hole, m_fade = hole >= 190, fade >= 190  # the pale spots, as the hysteresis threshold cuts them
    assert abs(int(m_hole.sum()) - int(m_fade.sum())) < 0.2 * m_hole.sum()  # the same size
    assert plateau(hole, m_hole, cyto) >= 0.7
    assert plateau(fade, m_fade, cyto) < 0.45
    # no cytoplasm around the spot, or no step down to it: undefined, so 0 (fails the test)
    assert plateau(hole, m_hole, np.zeros((60, 60), bool)) == 0.0
    assert plateau(np.full((60, 60), 200.0), d <= 3, cyto) == 0.0


def test_detector_finds_the_hole_not_the_faded_spot():
    import dataclasses

    r = drawn(0, cell_type="PN")
    m = segment_cell(r.image)
    glass = m.background
    cy, cx = spot_at(m)
    assert len(detect_vacuoles(punch(r.image, cy, cx, 5, glass), m.cell, m.nucleus, glass, 0.1)) == 1
    spot = faded(r.image, cy, cx, glass)
    assert detect_vacuoles(spot, m.cell, m.nucleus, glass, 0.1) == []
    # it is the punched-out test that rejects it: without it the spot passes every other test
    off = dataclasses.replace(VacuoleParams(), min_plateau=0.0)
    assert len(detect_vacuoles(spot, m.cell, m.nucleus, glass, 0.1, off)) == 1


def test_holes_found_in_pale_hypogranular_cytoplasm():
    """Version 4: in cytoplasm only ~30 grey levels below the glass (a pale, hypogranular
    neutrophil) the fixed limits of version 3 joined every hole to the cytoplasm around it (extent
    36 levels) and asked a wall about as dark as the cytoplasm itself (contrast 25); the limits
    that scale with the cytoplasm's depth find the holes, and nothing on the same cells without."""
    import dataclasses

    from vexscreen.morphology import vacuoles as V

    fixed = dataclasses.replace(VacuoleParams(), extent_fraction=np.inf, contrast_fraction=np.inf)
    for seed in range(3):
        spec = dict(cell_type="PN", granulation="none", stain_cytoplasm=0.8)
        r, clean = drawn(seed, n_vacuoles=2, vacuole_radius=5.0, **spec), drawn(seed, **spec)
        m = segment_cell(r.image)
        green = ndi.gaussian_filter(r.image[..., 1].astype(np.float32), 0.7)
        d = V.depth(green, float(m.background[1]), m.cytoplasm)
        assert 25 < d < 40  # paler than nearly every real normal neutrophil (33-107, median 67)
        assert V.extent_below(d) == pytest.approx(0.75 * d) and V.contrast_limit(d) == pytest.approx(d / 2)
        assert 1 <= len(detect_vacuoles(r.image, m.cell, m.nucleus, m.background, 0.1)) <= 2
        assert detect_vacuoles(r.image, m.cell, m.nucleus, m.background, 0.1, fixed) == []
        mc = segment_cell(clean.image)
        assert detect_vacuoles(clean.image, mc.cell, mc.nucleus, mc.background, 0.1) == []
    # in cytoplasm of typical depth the limits are version 3's
    assert V.extent_below(80.0) == 36.0 and V.contrast_limit(80.0) == 25.0


def test_params_are_the_operating_point_and_serialise():
    p = VacuoleParams()
    d = p.to_dict()
    assert d["min_diameter_um"] == 0.6 and d["core_below_glass"] == 14.0 and d["min_plateau"] == 0.5
    assert VacuoleParams(**d) == p


def test_touching_vacuoles_split_into_two():
    """Two punched holes that touch merge into one non-round pale spot: the watershed split
    (``split_clusters``, off at the operating point: docs/morphology.md) finds both; without it
    the detector rejects the merged spot (the known gap)."""
    import dataclasses

    from vexscreen.morphology.vacuoles import split_cluster

    r = drawn(0, cell_type="PN")
    m = segment_cell(r.image)
    glass = m.background
    cy, cx = spot_at(m)
    pair = punch(punch(r.image, cy, cx - 5, 5.5, glass), cy, cx + 5, 5.5, glass)
    on = dataclasses.replace(VacuoleParams(), split_clusters=True)
    found = detect_vacuoles(pair, m.cell, m.nucleus, glass, 0.1, on)
    assert len(found) == 2
    assert sorted(round(v.x) for v in found) == pytest.approx([cx - 5, cx + 5], abs=2)
    assert detect_vacuoles(pair, m.cell, m.nucleus, glass, 0.1) == []      # the default: off
    # one round hole is never cut
    one = punch(r.image, cy, cx, 6, glass)
    assert len(detect_vacuoles(one, m.cell, m.nucleus, glass, 0.1, on)) == 1
    yy, xx = np.mgrid[:40, :40]
    disc = (yy - 20) ** 2 + (xx - 20) ** 2 <= 64
    assert len(split_cluster(disc, 0.1)) == 1
    dumbbell = ((yy - 20) ** 2 + (xx - 13) ** 2 <= 36) | ((yy - 20) ** 2 + (xx - 26) ** 2 <= 36)
    parts = split_cluster(dumbbell, 0.1)
    assert len(parts) == 2 and not (parts[0] & parts[1]).any() and (parts[0] | parts[1]).sum() == dumbbell.sum()
