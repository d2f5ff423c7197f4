"""Contact sheets: a title per sheet, each cell marked with what truth.csv says was drawn, a legend.

The marks are checked against the feature definitions of feature recovery (written
independently of the preview's), and in the pixels: a badge's colour appears in exactly
the tiles that carry it, and in the legend.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vexscreen.phantom import make_cohort
from vexscreen.phantom.cohort import _truth_text
from vexscreen.phantom.preview import COLS, LEGEND_ROW_PX, MARKS, TITLE_PX, sheet_plans
from vexscreen.phantom.recovery import FEATURES

COLOUR = {m.code: m.colour for m in MARKS}
#: feature recovery's names for the preview's letters
RECOVERY_NAME = {"V": "vacuoles", "P": "pseudo-Pelger nucleus", "H": "hypogranular", "T": "toxic granulation",
                 "L": "large", "B": "blebs"}

#: and the marks feature recovery does not score
MORE = {"PN": {"S": lambda t: t["n_lobes_drawn"] >= 5},
        "MO": {"I": lambda t: t["n_inclusions_drawn"] > 0},
        "LY": {"G": lambda t: t["granulation"] == "high"}}


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    out = tmp_path_factory.mktemp("prev") / "ph"
    make_cohort(out, cohort="small", scale=0.5, seed=5, cell_types=("PN", "MO", "LY"), encoder_test_per_group=2,
                preview=True)
    return out


def test_a_sheet_per_group_with_a_title(phantom):
    truth = _truth_text(phantom)
    plans = sheet_plans(truth)
    names = sorted(p.name for p in plans)
    assert names == sorted(f.name for f in (phantom / "preview").iterdir())
    assert "PN_VEXAS.png" in names and "ENC_MO_INCLUSIONS.png" in names
    plan = next(p for p in plans if p.name == "PN_VEXAS.png")
    n = int(((truth.cell_type == "PN") & (truth.group == "VEXAS") & (truth.set == "cohort")).sum())
    assert plan.title == ("Phantom cohort, neutrophils (PN): group VEXAS",
                          f"{min(24, n)} of {n} cells (first by file name), from 2 patient(s); "
                          "badges: what truth.csv says was drawn")
    assert next(p for p in plans if p.name == "ENC_MO_INCLUSIONS.png").title[0] == \
        "Encoder test, monocytes (MO): morphology group INCLUSIONS"


def test_marks_are_what_truth_says_was_drawn(phantom):
    truth = pd.read_csv(phantom / "truth.csv")  # parsed, as feature recovery reads it
    by_path = truth.set_index("path")
    marked = set()
    for plan in sheet_plans(_truth_text(phantom)):
        ct = by_path.loc[plan.files[0], "cell_type"]
        t = by_path.loc[plan.files].reset_index()
        for name, _, has in FEATURES[ct]:
            code = next(c for c, n in RECOVERY_NAME.items() if n == name)
            assert [code in m for m in plan.marks] == has(t).tolist(), (plan.name, name)
        for code, has in MORE.get(ct, {}).items():
            assert [code in m for m in plan.marks] == has(t).tolist(), (plan.name, code)
        marked |= set().union(*plan.marks)
        counts = {mark.code: text for mark, text in plan.legend}
        for code, text in counts.items():  # the legend: every mark of the cell type, with its count
            assert text.endswith(f": {sum(code in m for m in plan.marks)} of {len(plan.files)} cells")
        assert set().union(*plan.marks) <= set(counts)
        for rings, m, (_, row) in zip(plan.rings, plan.marks, t.iterrows()):
            assert len(rings) == (row.n_vacuoles_drawn if "V" in m else 0)
    assert {"V", "P", "H", "T", "I", "L", "B"} <= marked  # the cohort has each; the check saw them


def _tile(img, k, tile=120):
    x, y = (k % COLS) * tile, TITLE_PX + (k // COLS) * tile
    return img[y:y + tile, x:x + tile]


def _has(a, rgb) -> bool:
    return bool((a[..., :3] == np.asarray(rgb)).all(axis=-1).any())


def test_badges_rings_title_and_legend_are_drawn(phantom):
    for plan in sheet_plans(_truth_text(phantom)):
        with Image.open(phantom / "preview" / plan.name) as im:
            img = np.asarray(im.convert("RGB"))
        rows = -(-len(plan.files) // COLS)
        assert img.shape == (TITLE_PX + rows * 120 + 8 + -(-len(plan.legend) // 2) * LEGEND_ROW_PX, COLS * 120, 3)
        assert (img[4:TITLE_PX - 4].min(axis=-1) < 80).any()  # the title's dark text
        for k, codes in enumerate(plan.marks):
            tile = _tile(img, k)
            for code in {m.code for m in MARKS if m.code != "V"}:  # V: the badge, and the ring below it
                assert _has(tile[:20], COLOUR[code]) == (code in codes), (plan.name, k, code)
            assert _has(tile[22:], COLOUR["V"]) == ("V" in codes), (plan.name, k, "ring")
        legend = img[TITLE_PX + rows * 120:]
        assert all(_has(legend, COLOUR[mark.code]) for mark, _ in plan.legend)


def test_real_images_are_marked_with_their_planted_vacuoles_only():
    truth = pd.DataFrame({"path": ["PN/VEXAS/a.png", "PN/VEXAS/b.png"], "set": "cohort", "cell_type": "PN",
                          "group": "VEXAS", "patient": "VEXAS[1]", "source": "real", "granulation": "",
                          "nucleus_shape": "", "n_lobes_drawn": "", "n_vacuoles_drawn": ["2", "0"],
                          "vacuole_radii": ["4.0;5.0", ""], "vacuole_centers": ["100:120;130:90", ""],
                          "n_inclusions_drawn": "", "blebs": "", "large": ""})
    plan, = sheet_plans(truth)
    assert plan.marks == [["V"], []] and plan.rings == [[(100.0, 120.0, 4.0), (130.0, 90.0, 5.0)], []]
    assert [m.code for m, _ in plan.legend] == ["V"]
