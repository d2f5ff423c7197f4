"""Contact sheets of a phantom: a look at its cells, each marked with what was drawn into it.

One PNG per cell type and group (``out/preview/<CT>_<GROUP>.png``, encoder-test groups
``ENC_<CT>_<GROUP>.png``): a title (what the sheet shows), up to ``per_sheet`` tiles (the
first cells by file name) and a legend. A tile carries a lettered badge per feature that
truth.csv says the cell has (vacuoles, pseudo-Pelger nucleus, granulation, ...), and a
ring around each drawn vacuole; the legend says what each letter means and how many
tiles carry it. :func:`sheet_plans` decides what a sheet shows (tested without pixels);
:func:`draw_sheet` draws it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from ..data.atomic import atomic_path
from ..study import CELL_TYPE_NAMES

COLS = 6
TITLE_PX = 46
LEGEND_ROW_PX = 22
CROP = 0.7  # a tile shows the central 70 % of the image: the cell, little background


def _num(v) -> float:
    """A truth.csv value as a number; '' and other text (e.g. real-image rows) count as 0."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if x != x else x


@dataclass(frozen=True)
class Mark:
    """A feature marked on the tiles: letter, meaning, badge colour, the cell types it applies to."""

    code: str
    text: str
    colour: tuple
    cell_types: tuple

    def has(self, row) -> bool:
        g, shape = str(row["granulation"]), str(row["nucleus_shape"])
        return {"V": _num(row["n_vacuoles_drawn"]) > 0, "P": shape == "pelger",
                "S": _num(row["n_lobes_drawn"]) >= 5, "H": g in ("none", "low"), "T": g == "high",
                "I": _num(row["n_inclusions_drawn"]) > 0, "B": _num(row["blebs"]) > 0,
                "L": str(row["large"]) == "True", "G": g == "high"}[self.code]


#: the features of METHOD.md's morphology (and of phantom.phenotypes) that a tile can carry;
#: colours chosen far from any stain so that a badge is never mistaken for the cell
MARKS = (Mark("V", "vacuoles (each ringed)", (0, 120, 255), ("PN", "MO")),
         Mark("P", "pseudo-Pelger nucleus", (255, 120, 0), ("PN",)),
         Mark("S", "hypersegmented nucleus (5+ lobes)", (0, 150, 150), ("PN",)),
         Mark("H", "hypogranular (none/low)", (0, 160, 60), ("PN",)),
         Mark("T", "toxic granulation", (210, 0, 0), ("PN",)),
         Mark("I", "phagocytic inclusions", (150, 0, 210), ("MO",)),
         Mark("L", "large lymphocyte", (140, 90, 0), ("LY",)),
         Mark("G", "azurophilic granules", (230, 0, 230), ("LY",)),
         Mark("B", "blebs", (0, 170, 200), ("LY",)))


@dataclass
class SheetPlan:
    """What one contact sheet shows: file name, title lines, tiles and their marks, legend lines."""

    name: str
    title: tuple
    files: list
    marks: list                 # per tile: the Mark codes it carries
    rings: list                 # per tile: [(x, y, radius)] of its vacuoles, image pixels
    legend: list = field(default_factory=list)   # [(Mark, "text with the count")]


def _rings(row) -> list[tuple]:
    centres = [c for c in str(row["vacuole_centers"]).split(";") if ":" in c]
    radii = [_num(r) for r in str(row["vacuole_radii"]).split(";")]
    return [(float(c.split(":")[0]), float(c.split(":")[1]), r) for c, r in zip(centres, radii)]


def _title(s: str, ct: str, g: str, sub: pd.DataFrame, shown: int) -> tuple:
    what = f"{CELL_TYPE_NAMES[ct]} ({ct})"
    if s == "encoder_test":
        head = f"Encoder test, {what}: morphology group {g}"
        origin = "cells drawn with this group's morphology"
    else:
        head = f"Phantom cohort, {what}: group {g}"
        origin = f"from {sub['patient'].nunique()} patient(s)"
    return head, f"{shown} of {len(sub)} cells (first by file name), {origin}; badges: what truth.csv says was drawn"


def sheet_plans(truth: pd.DataFrame, per_sheet: int = 24) -> list[SheetPlan]:
    """One plan per (set, cell type, group) of ``truth`` (truth.csv, as text or parsed)."""
    plans = []
    for (s, ct, g), sub in truth.groupby(["set", "cell_type", "group"], sort=True):
        rows = [r for _, r in sub.head(per_sheet).iterrows()]
        marks = [m for m in MARKS if ct in m.cell_types]
        if (sub["source"] == "real").any():  # planted into real images: only the vacuoles are known
            marks = [m for m in marks if m.code == "V"]
        tile_marks = [[m.code for m in marks if m.has(r)] for r in rows]
        legend = [(m, f"{m.text}: {sum(m.code in t for t in tile_marks)} of {len(rows)} cells") for m in marks]
        plans.append(SheetPlan(name=f"{'ENC_' if s == 'encoder_test' else ''}{ct}_{g}.png",
                               title=_title(s, ct, g, sub, len(rows)), files=list(sub["path"].head(per_sheet)),
                               marks=tile_marks, rings=[_rings(r) if "V" in t else [] for r, t in zip(rows, tile_marks)],
                               legend=legend))
    return plans


def _font(size: int):
    return ImageFont.load_default(size=size)


def _tile(path: Path, rings: list, tile: int) -> Image.Image:
    """The image's centre, scaled to ``tile``, each vacuole ringed."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        side = int(min(im.size) * CROP)
        left, top = (im.size[0] - side) // 2, (im.size[1] - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((tile, tile), Image.LANCZOS)
    draw, f = ImageDraw.Draw(im), tile / side
    colour = next(m.colour for m in MARKS if m.code == "V")
    for x, y, r in rings:
        cx, cy, rr = (x - left) * f, (y - top) * f, r * f + 3
        draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=colour, width=2)
    return im


def _badge(draw, xy, mark: Mark, font) -> int:
    """A lettered badge at ``xy``; returns its width."""
    w = 16
    draw.rectangle((xy[0], xy[1], xy[0] + w - 1, xy[1] + 15), fill=mark.colour)
    draw.text((xy[0] + w / 2, xy[1] + 8), mark.code, fill="white", font=font, anchor="mm")
    return w


def draw_sheet(out, plan: SheetPlan, tile: int = 120) -> Image.Image:
    """The contact sheet of ``plan``: title band, tiles with badges and rings, legend band."""
    rows = (len(plan.files) + COLS - 1) // COLS
    legend_rows = (len(plan.legend) + 1) // 2
    height = TITLE_PX + rows * tile + 8 + legend_rows * LEGEND_ROW_PX
    sheet = Image.new("RGB", (COLS * tile, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 4), plan.title[0], fill="black", font=_font(16))
    draw.text((6, 25), plan.title[1], fill=(70, 70, 70), font=_font(11))
    by_code = {m.code: m for m in MARKS}
    small = _font(12)
    for k, (f, codes, rings) in enumerate(zip(plan.files, plan.marks, plan.rings)):
        x, y = (k % COLS) * tile, TITLE_PX + (k // COLS) * tile
        sheet.paste(_tile(Path(out) / f, rings, tile), (x, y))
        for j, code in enumerate(codes):
            _badge(draw, (x + 3 + 18 * j, y + 3), by_code[code], small)
    top = TITLE_PX + rows * tile + 8
    for j, (mark, text) in enumerate(plan.legend):
        x, y = 6 + (j % 2) * (COLS * tile // 2), top + (j // 2) * LEGEND_ROW_PX
        w = _badge(draw, (x, y), mark, small)
        draw.text((x + w + 6, y + 8), text, fill="black", font=small, anchor="lm")
    return sheet


def write_previews(out, truth: pd.DataFrame, per_sheet: int = 24, tile: int = 120) -> list[Path]:
    """One contact sheet PNG per cell type and group under ``out/preview/`` (see module doc)."""
    out = Path(out)
    paths = []
    for plan in sheet_plans(truth, per_sheet):
        p = out / "preview" / plan.name
        with atomic_path(p, suffix=".png") as tmp:
            draw_sheet(out, plan, tile).save(tmp, format="PNG")
        paths.append(p)
    return paths
