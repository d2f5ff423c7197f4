"""A contact sheet of the phantom's two drawings beside real normal cells (docs/phantom.md, Styles).

Rows: drawn and calibrated segmented neutrophils, real ones (``SNE_`` images of
../shared/data/wbc); drawn and calibrated monocytes, real ones. The drawn cells are a normal
donor's (baseline phenotype: no vacuole, no inclusion, normal granulation), the same cell
drawn in each style (same seeds); the real ones are every k-th image in name order.

Run (a few seconds):
    PYTHONPATH=src python experiments/phantom_styles_sheet.py --out docs/img/phantom_styles.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from vexscreen.data.atomic import atomic_path  # noqa: E402
from vexscreen.phantom import phenotypes as P  # noqa: E402
from vexscreen.phantom.render import HEIGHT, WIDTH, render  # noqa: E402

WBC = ROOT.parent / "shared" / "data" / "wbc"
CROP = 240    # the centred square shown of each 360 x 363 frame


def _centre(img: np.ndarray) -> np.ndarray:
    y0, x0 = (img.shape[0] - CROP) // 2, (img.shape[1] - CROP) // 2
    return img[y0:y0 + CROP, x0:x0 + CROP]


def drawn_cells(cell_type: str, style: str, n: int) -> list[np.ndarray]:
    """n normal cells of this type in this style; cell i is drawn from the same seeds in every style."""
    out, i = [], 0
    while len(out) < n:
        i += 1
        spec = P.cell_spec(cell_type, P.BASELINE, P.smear_from_rng(P.generator(3, i)), P.generator(4, i), style)
        if not P.is_normal_cell(spec, "segmented"):
            continue
        out.append(_centre(render(spec, P.generator(5, i), style).image))
    return out


def real_cells(folder: str, prefix: str, n: int) -> list[np.ndarray]:
    files = sorted(p for p in (WBC / folder).iterdir() if p.name.startswith(prefix))
    if len(files) < n:
        raise SystemExit(f"{WBC / folder}: fewer than {n} images starting with {prefix!r}")
    picks = files[:: max(1, len(files) // n)][:n]
    return [_centre(np.asarray(Image.open(p).convert("RGB").resize((WIDTH, HEIGHT)))) for p in picks]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs/img/phantom_styles.png")
    ap.add_argument("--cells", type=int, default=6, help="cells per row, at least 1")
    args = ap.parse_args()
    if args.cells < 1:
        ap.error("--cells must be at least 1")
    rows = [("drawn neutrophils", drawn_cells("PN", "drawn", args.cells)),
            ("calibrated neutrophils", drawn_cells("PN", "calibrated", args.cells)),
            ("real neutrophils (PBC)", real_cells("neutrophil", "SNE_", args.cells)),
            ("drawn monocytes", drawn_cells("MO", "drawn", args.cells)),
            ("calibrated monocytes", drawn_cells("MO", "calibrated", args.cells)),
            ("real monocytes (PBC)", real_cells("monocyte", "", args.cells))]
    label_h = 22
    sheet = Image.new("RGB", (CROP * args.cells, len(rows) * (CROP + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, cells) in enumerate(rows):
        y = r * (CROP + label_h)
        draw.text((6, y + 5), label, fill="black")
        for c, img in enumerate(cells):
            sheet.paste(Image.fromarray(img), (c * CROP, y + label_h))
    sheet = sheet.resize((sheet.width // 2, sheet.height // 2), Image.LANCZOS)
    with atomic_path(Path(args.out), suffix=".png") as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
