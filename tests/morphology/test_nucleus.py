"""Lobes, bridges, pseudo-Pelger and spikes on drawn nuclear shapes and drawn neutrophils."""
import numpy as np
import pytest

from vexscreen.morphology import nucleus as N
from vexscreen.morphology import segment_cell
from vexscreen.morphology.measure import measure_masks

from .conftest import drawn

PS = 0.1  # um per pixel


def discs(shape, centres, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    m = np.zeros(shape, bool)
    for cy, cx in centres:
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return m


def test_two_lobes_joined_by_a_filament():
    m = discs((80, 140), [(40, 35), (40, 105)], 18)
    m[39:42, 35:105] = True  # a 3-px filament
    lab, n, bridge = N.lobes(m, PS)
    assert n == 2
    assert bridge == pytest.approx(0.3, abs=0.15)  # ~3 px = 0.3 um
    assert N.pseudo_pelger(m, lab, n) == 1  # two round lobes of equal size: spectacles


def test_three_separate_lobes_and_a_band():
    m = discs((100, 200), [(50, 30), (50, 100), (50, 170)], 16)
    assert N.lobes(m, PS)[1] == 3
    band = np.zeros((120, 120), bool)  # a thick C: one lobe, no constriction
    yy, xx = np.mgrid[:120, :120]
    rho, th = np.hypot(yy - 60, xx - 60), np.arctan2(yy - 60, xx - 60)
    band[(rho > 28) & (rho < 46) & (th > -2.4) & (th < 2.4)] = True
    lab, n, bridge = N.lobes(band, PS)
    assert n == 1 and bridge > 1.5
    assert N.pseudo_pelger(band, lab, n) == 0  # a C is not round


def test_round_nucleus_is_pelger_like_and_empty_mask_has_no_lobes():
    m = discs((80, 80), [(40, 40)], 25)
    lab, n, _ = N.lobes(m, PS)
    assert n == 1 and N.pseudo_pelger(m, lab, n) == 1
    assert N.lobes(np.zeros((10, 10), bool), PS)[1] == 0


def test_spikes_counted():
    m = discs((100, 100), [(50, 50)], 25)
    assert N.spikes(m, PS) == 0
    m[48:51, 75:88] = True  # a 1.3 um thin spike
    assert N.spikes(m, PS) == 1


@pytest.mark.parametrize("lobes,seed", [(2, 0), (3, 1), (4, 2)])
def test_lobes_of_drawn_segmented_neutrophils(lobes, seed):
    r = drawn(seed, cell_type="PN", nucleus_shape="segmented", n_lobes=lobes)
    assert r.drawn["n_lobes_drawn"] == lobes
    m = segment_cell(r.image)
    row, _ = measure_masks(r.image, m)
    assert row["nucleus_lobes"] == lobes


def test_drawn_band_has_one_lobe_and_pelger_two():
    band = drawn(5, cell_type="PN", nucleus_shape="band", n_lobes=1)
    row, _ = measure_masks(band.image, segment_cell(band.image))
    assert row["nucleus_lobes"] == 1 and row["pseudo_pelger"] == 0
    pel = drawn(6, cell_type="PN", nucleus_shape="pelger", n_lobes=2)
    row, _ = measure_masks(pel.image, segment_cell(pel.image))
    assert row["nucleus_lobes"] == 2 and row["pseudo_pelger"] == 1


def test_lobes_pressed_together_are_split_at_their_facing_notches():
    # two overlapping discs: a neck 0.55 x the width (too wide for the distance-transform rule)
    # but two sharp corners facing each other where the outlines cross
    m = discs((80, 140), [(40, 50), (40, 80)], 18)
    pts = N.notches(m, PS)
    assert len(pts) == 2 and all(a < N.NOTCH_MAX_ANGLE for *_, a in pts)
    assert sorted(round(y) for y, _, _ in pts) == [29, 51] and all(abs(x - 65) < 1 for _, x, _ in pts)
    assert N.constriction(m, PS) == pytest.approx(10 / 14.14, abs=0.05)  # neck half-width / p95 half-width
    lab, n, bridge = N.lobes(m, PS)
    assert n == 2 and bridge == pytest.approx(2.0, abs=0.2)  # the 20-px chord between the corners
    # pressed lobes (no filament) are judged as one nucleus, as before the cut: too long for a peanut
    assert N.pseudo_pelger(m, lab, n) == 0
    # nearly coincident discs: a round nucleus with shallow, blunt corners
    round_ = discs((80, 140), [(40, 60), (40, 80)], 18)
    assert N.notches(round_, PS) == [] and N.lobes(round_, PS)[1] == 1


def test_one_notch_or_a_band_curve_does_not_split():
    m = discs((100, 100), [(50, 50)], 30)
    yy, xx = np.mgrid[:100, :100]
    m &= ~(np.abs(xx - 50) < (45 - yy) * 0.5)  # a V-shaped notch from the top, its tip at y = 45
    assert len(N.notches(m, PS)) == 1
    assert N.lobes(m, PS)[1] == 1  # no notch facing it: nothing to cut to
    band = np.zeros((120, 120), bool)  # a thick C: its inner curve is concave but smooth
    yy2, xx2 = np.mgrid[:120, :120]
    rho, th = np.hypot(yy2 - 60, xx2 - 60), np.arctan2(yy2 - 60, xx2 - 60)
    band[(rho > 28) & (rho < 46) & (th > -2.4) & (th < 2.4)] = True
    assert N.notches(band, PS) == []
    assert N.constriction(band, PS) > 0.9


def test_constriction_filament_apart_and_disc():
    m = discs((80, 140), [(40, 35), (40, 105)], 18)
    m[39:42, 35:105] = True  # a 3-px filament between lobes of half-width ~18 px
    assert N.constriction(m, PS) == pytest.approx(2.0 / 14.0, abs=0.05)
    assert N.constriction(discs((100, 200), [(50, 30), (50, 100)], 16), PS) == 0.0
    assert N.constriction(discs((80, 80), [(40, 40)], 25), PS) == 1.0
    assert N.constriction(np.zeros((10, 10), bool), PS) == 0.0


def test_circular_runs_join_across_the_end():
    runs = N._circular_runs(np.array([1, 1, 0, 0, 1, 0, 1, 1], bool))
    assert sorted(map(list, runs)) == [[4], [6, 7, 0, 1]]
    assert N._circular_runs(np.zeros(4, bool)) == [] and list(N._circular_runs(np.ones(3, bool))[0]) == [0, 1, 2]
