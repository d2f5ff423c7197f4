"""The min-cells measurement: a patient's score spreads less as it rests on more cells."""
from __future__ import annotations

import numpy as np

from vexscreen.model.cell_count import draw_scores, planted_mixture, synthetic_study


def test_spread_shrinks_with_cells():
    r = synthetic_study(signal=4.0, dim=16, held_out=2, held_out_cells=150, sizes=(5, 100), repeats=12,
                        model_params={"n_aggregates": 20})
    summary = r["summary"].set_index("n")
    assert list(summary.index) == [5, 100]
    assert summary.loc[5, "median_sd"] > 2 * summary.loc[100, "median_sd"]
    assert set(r["table"]["patient"]) == {"held-out UBA1-WT[0]", "held-out UBA1-WT[1]", "held-out VEXAS[0]",
                                          "held-out VEXAS[1]"}
    again = synthetic_study(signal=4.0, dim=16, held_out=2, held_out_cells=150, sizes=(5, 100), repeats=12,
                            model_params={"n_aggregates": 20})
    assert again["table"].equals(r["table"])  # seeded


def test_mixture_marks_a_fraction_of_vexas_cells():
    from vexscreen.data.synthetic import simple_structure, synthetic_encodings

    enc = synthetic_encodings(simple_structure({"UBA1-WT": 3, "VEXAS": 3}, 1, 400), dim=8, signal=0.0, seed=1)
    mixed = planted_mixture(enc, 50.0, seed=1)
    moved = np.linalg.norm(mixed.X - enc.X, axis=1) > 1
    share = {g: moved[(enc.meta["GROUP"] == g).to_numpy()].mean() for g in ("UBA1-WT", "VEXAS")}
    assert share["UBA1-WT"] < 0.05 and 0.2 <= share["VEXAS"] <= 0.6


def test_draw_scores_uses_n_cells():
    class Probe:
        n_aggregates, aggregate_size, statistic = 4, 3, "median"

        def score_cells(self, ct, A):
            return A[:, 0]

    X = np.arange(10, dtype=np.float32)[:, None]
    s = draw_scores(Probe(), "PN", X, 10, 3, seed=0)  # all cells, medians of draws from 0..9
    assert s.shape == (3,) and np.all((s >= 0) & (s <= 9))
    one = draw_scores(Probe(), "PN", np.full((5, 1), 7, np.float32), 1, 2, seed=0)
    np.testing.assert_array_equal(one, [7, 7])
