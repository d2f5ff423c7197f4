"""Validation of `vexscreen measure` (issue 11, 5a and 5b): numbers for docs/morphology.md.

5b, real normal cells (../shared/data/wbc, CellaVision DM96, normal donors):
  * the pixel size from the red-cell diameter (vexscreen.morphology.calibration);
  * quality flags per cell type (segmentation failures <= 2% is the target);
  * fraction of neutrophils / monocytes with >= 1 detected vacuole (<= 5% of neutrophils is
    the target), on all cells and apart on the cells NOT used to calibrate the operating point
    (calibration used every 2nd neutrophil in sorted order, from the first; no monocyte);
  * band (BNE_) vs segmented (SNE_) neutrophils: ROC-AUC of the lobe count (>= 0.8) and the
    study's 5-NN consistency AUC of the standardised measurement vector (>= 0.85; METHOD.md 2a);
  * a contact sheet of the real cells called vacuolated: docs/img/morphology_flagged_real.png.
5a, phantom truth (``python -m vexscreen.cli phantom --cohort study --scale 0.05 --out PH --seed 0``):
  * per-cell vacuole detection ROC-AUC (score: vacuole_area_um2) on drawn neutrophils (>= 0.95)
    and monocytes (>= 0.9), the share called vacuolated among cells with a drawn vacuole of radius
    >= 4 px, count vs drawn count, lobes vs drawn lobes, pseudo-Pelger and granulation.
5a on real texture (``phantom ... --scale 0.6 --cell-types PN,MO --encoder-test-per-group 0
--source-images ../shared/data/wbc --out PHR``, vacuoles planted into real normal cells): the
share of cells given a vacuole of radius >= 4 px that are called vacuolated (>= 80%), the false
calls on the cells without one, and why each missed planted vacuole was missed.

    PYTHONPATH=src python experiments/measure_validation.py [--phantom DIR] [--real-texture PHR] [--work DIR]

Measurements are cached in --work (measure_scan resumes); the summary goes to
experiments/results/measure_validation.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from _provenance import portable, write_results  # noqa: E402
from _halves import image_names, rule_half  # noqa: E402

from vexscreen.data.atomic import save_figure  # noqa: E402
from vexscreen.data.scan import load_rgb, scan_images  # noqa: E402
from vexscreen.evaluation.consistency import pairwise_auc  # noqa: E402
from vexscreen.morphology import COLUMNS, VacuoleParams, measure_masks, measure_scan, segment_cell  # noqa: E402
from vexscreen.morphology.calibration import pixel_size_from_red_cells, red_cell_diameters  # noqa: E402

WBC = ROOT.parent / "shared" / "data" / "wbc"
TYPES = {"neutrophil": "PN", "monocyte": "MO", "lymphocyte": "LY"}
CALIBRATED = ("neutrophil",)  # the vacuole operating point was chosen on half of these (_halves.py)


def measure_subset(root: Path, groups, out: Path, workers: int) -> pd.DataFrame:
    scan = scan_images(root, layout="encoder_test", progress=False)
    scan.images = [r for r in scan.images if r.group in groups]
    measure_scan(scan, out, workers=workers)
    return pd.read_csv(out / "measurements.csv", keep_default_na=False, na_values=[""])


def pixel_size(step: int = 20) -> dict:
    d = []
    for folder in ("neutrophil", "lymphocyte"):
        for p in sorted((WBC / folder).glob("*.jpg"))[::step]:
            img = np.asarray(load_rgb(p))
            if img.shape[1] == 360:
                d += red_cell_diameters(img)
    q = np.percentile(d, [25, 50, 75])
    return {"red_cells": len(d), "median_px": round(float(q[1]), 1), "iqr_px": [round(float(q[0]), 1),
            round(float(q[2]), 1)], "um_per_px": round(pixel_size_from_red_cells(d), 4)}


def real_cells(work: Path, workers: int) -> tuple[dict, pd.DataFrame]:
    t = measure_subset(WBC, TYPES, work / "wbc", workers)
    t["name"] = t["IMAGE"].str.split("/").str[-1]
    out = {}
    for folder, ct in TYPES.items():
        d = t[t.GROUP == folder]
        q = d.quality.value_counts().to_dict()
        ok = d[d.quality == "ok"]
        rec = {"images": len(d), "quality": q, "not_ok": round(1 - len(ok) / len(d), 4),
               "segmentation_failed": round(q.get("segmentation_failed", 0) / len(d), 4)}
        if folder in ("neutrophil", "monocyte"):
            flag = ok.vacuole_count > 0
            rec["vacuolated_all"] = round(flag.mean(), 4)
            # how large the vacuoles of normal cells are (equivalent diameter of the pale spot, which
            # runs a little inside the hole's edge): to set beside the phantom's baseline vacuoles
            q = ok.vacuole_max_diameter_um[flag].quantile([0.1, 0.25, 0.5, 0.75, 0.9])
            rec["largest_vacuole_diameter_um_quantiles_10_25_50_75_90"] = [round(float(v), 2) for v in q]
        if folder in CALIBRATED:
            calib = rule_half(d.name)
            held = ~ok.name.isin(calib)
            rec.update({"vacuolated_held_out": round(flag[held].mean(), 4),
                        "held_out_cells": int(held.sum()), "vacuolated_calibration": round(flag[~held].mean(), 4)})
        out[ct] = rec
    pn = t[(t.GROUP == "neutrophil") & (t.quality == "ok") & t.name.str.match("(BNE|SNE)_")].copy()
    dev = rule_half(pn.name)  # the half the lobe rules were chosen on (docs/morphology.md)
    out["band_vs_segmented"] = {
        "all": band_vs_segmented(pn),
        "rule_half_every_2nd_from_1st": band_vs_segmented(pn[pn.name.isin(dev)]),
        "held_out_half": band_vs_segmented(pn[~pn.name.isin(dev)])}
    return out, t


def band_vs_segmented(pn: pd.DataFrame) -> dict:
    """Band (BNE_) vs segmented (SNE_) neutrophils: AUCs of the nuclear measurements and the
    5-NN consistency AUC of the whole standardised measurement vector (METHOD.md 2a)."""
    y = pn.name.str.startswith("SNE_").astype(int).to_numpy()
    X = pn[list(COLUMNS)].to_numpy(float)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    return {
        "cells": {"BNE": int((y == 0).sum()), "SNE": int(y.sum())},
        "lobes_auc": round(roc_auc_score(y, pn.nucleus_lobes), 4),
        "lobes_mean": {"BNE": round(pn.nucleus_lobes[y == 0].mean(), 2), "SNE": round(pn.nucleus_lobes[y == 1].mean(), 2)},
        "thinnest_bridge_auc": round(roc_auc_score(y, -pn.lobe_bridge_um), 4),
        "constriction_auc": round(roc_auc_score(y, -pn.lobe_constriction), 4),
        "notches_auc": round(roc_auc_score(y, pn.nuclear_notches), 4),
        "knn5_consistency_auc": round(pairwise_auc(X, np.where(y == 1, "SNE", "BNE"), "BNE", "SNE"), 4)}


def contact_sheet(t: pd.DataFrame, path: Path, per_type: int = 24) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle
    rows = []
    for folder in ("neutrophil", "monocyte"):
        f = t[(t.GROUP == folder) & (t.vacuole_count > 0)].sort_values("IMAGE")
        rows += list(f.IMAGE[: per_type])
    cols = 8
    fig, axes = plt.subplots((len(rows) + cols - 1) // cols, cols, figsize=(2 * cols, 2 * ((len(rows) + cols - 1) // cols)))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, rel in zip(np.ravel(axes), rows):
        img = np.asarray(load_rgb(WBC / rel))
        masks = segment_cell(img)
        _, vac = measure_masks(img, masks)
        ys, xs = np.nonzero(masks.cell)
        c, h = ((ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2), max(np.ptp(ys), np.ptp(xs)) // 2 + 10
        ax.imshow(img[max(0, c[0] - h):c[0] + h, max(0, c[1] - h):c[1] + h])
        for v in vac:
            ax.add_patch(Circle((v.x - max(0, c[1] - h), v.y - max(0, c[0] - h)), v.diameter_um / 0.1 / 2 + 4,
                                fill=False, color="#0050ff", lw=1.2))
        ax.set_title(rel.split("/")[-1], fontsize=7)
    fig.suptitle("Real normal cells called vacuolated (blue circles), first by name: "
                 f"{min(per_type, (t.GROUP.eq('neutrophil') & t.vacuole_count.gt(0)).sum())} neutrophils, then monocytes",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def phantom(ph: Path, work: Path, workers: int) -> dict:
    out = {}
    for ct in ("PN", "MO"):
        d = measured_with_truth(ph, ct, work / f"phantom_{ct}", workers)
        ok = d[d.quality == "ok"]
        vac = ok.n_vacuoles_drawn > 0
        rmax = _largest_radius(ok.vacuole_radii)
        rec = {"cells": len(d), "ok": len(ok), "vacuolated_drawn": int(vac.sum()),
               "vacuole_auc": round(roc_auc_score(vac, ok.vacuole_area_um2), 4),
               # the same AUC leaving out the cells whose largest drawn vacuole is sub-micron (the
               # baseline's, radius < 4 px): VEXAS-sized vacuoles against none
               "vacuole_auc_radius_ge_4px_vs_none": round(roc_auc_score(
                   rmax[(rmax >= 4) | ~vac] >= 4, ok.vacuole_area_um2[(rmax >= 4) | ~vac]), 4),
               "called_vacuolated_radius_ge_4px": round((ok.vacuole_count[rmax >= 4] > 0).mean(), 4),
               "cells_radius_ge_4px": int((rmax >= 4).sum()),
               "called_vacuolated_radius_lt_4px": round((ok.vacuole_count[(rmax > 0) & (rmax < 4)] > 0).mean(), 4),
               "false_calls_no_vacuole": round((ok.vacuole_count[~vac] > 0).mean(), 4),
               "count_vs_drawn_mean_abs_error": round(float((ok.vacuole_count - ok.n_vacuoles_drawn)[vac].abs().mean()), 3),
               "count_vs_drawn_corr": round(float(np.corrcoef(ok.vacuole_count[vac], ok.n_vacuoles_drawn[vac])[0, 1]), 3)}
        if ct == "PN":
            seg = ok[ok.nucleus_shape.isin(["segmented", "band"])]
            rec["lobes_exact"] = round(float((seg.nucleus_lobes == seg.n_lobes_drawn).mean()), 4)
            rec["lobes_within_1"] = round(float(((seg.nucleus_lobes - seg.n_lobes_drawn).abs() <= 1).mean()), 4)
            rec["lobes_corr"] = round(float(np.corrcoef(seg.nucleus_lobes, seg.n_lobes_drawn)[0, 1]), 3)
            rec["pelger_auc"] = round(roc_auc_score(ok.nucleus_shape == "pelger", ok.pseudo_pelger + 0.01 * -ok.nucleus_lobes), 4)
            rec["pelger_called"] = {"pelger": round(ok.pseudo_pelger[ok.nucleus_shape == "pelger"].mean(), 3),
                                    "other": round(ok.pseudo_pelger[ok.nucleus_shape != "pelger"].mean(), 3)}
            normal = ok.granulation == "normal"
            rec["toxic_granulation_auc"] = round(roc_auc_score(ok.granulation[normal | (ok.granulation == "high")] == "high",
                                                               ok.granularity[normal | (ok.granulation == "high")]), 4)
            hypo = ok.granulation.isin(["none", "low"])
            rec["hypogranular_auc"] = round(roc_auc_score(hypo[normal | hypo], -ok.granularity[normal | hypo]), 4)
            rec["granulation_auc_by_column"] = granulation_aucs(ok)
        out[ct] = rec
    return out


#: the columns that could carry drawn granulation: the texture, and the cytoplasm's colour
GRANULATION_COLUMNS = ("granularity", "cytoplasm_od_red", "cytoplasm_od_green", "cytoplasm_od_blue")


def granulation_aucs(ok: pd.DataFrame) -> dict:
    """Per column, the AUC (higher value = the drawn feature) of toxic granulation against normal
    and of hypogranular (none/low) against normal: every candidate column, none chosen."""
    normal = ok.granulation == "normal"
    out = {}
    for col in GRANULATION_COLUMNS:
        rec = {}
        for name, feature in (("toxic_vs_normal", ok.granulation == "high"),
                              ("hypogranular_vs_normal", ok.granulation.isin(["none", "low"]))):
            keep = normal | feature
            rec[name] = round(roc_auc_score(feature[keep], ok[col][keep]), 4)
        out[col] = rec
    return out


def measured_with_truth(ph: Path, ct: str, out: Path, workers: int) -> pd.DataFrame:
    """The phantom's ``ct`` cells measured into ``out``, each row joined to its truth.csv row."""
    truth = pd.read_csv(ph / "truth.csv", keep_default_na=False, na_values=[""])
    t = measure_subset_labeled(ph / ct, out, workers)
    t["path"] = f"{ct}/" + t["IMAGE"]
    return t.merge(truth, on="path", how="left", validate="one_to_one")


def _largest_radius(radii) -> pd.Series:
    return radii.fillna("").map(lambda s: max([float(v) for v in str(s).split(";")], default=0) if s else 0)


def _calibration_names(folder: str) -> set:
    """File names of the real cells the vacuole operating point was chosen on."""
    return rule_half(image_names(WBC / folder)) if folder in CALIBRATED else set()


def real_texture(ph: Path, work: Path, workers: int) -> dict:
    """5a on real texture: vacuoles planted into real normal cells (``phantom --source-images``).

    At the operating point (calibrated on real normal cells, unchanged): the share of cells given a
    vacuole of radius >= 4 px that are called vacuolated (target >= 80%), the false calls on the
    run's cells without a planted vacuole, and why each planted vacuole of radius >= 4 px was missed.
    """
    out = {}
    for ct in ("PN", "MO"):
        d = measured_with_truth(ph, ct, work / f"real_texture_{ct}", workers)
        ok = d[d.quality == "ok"]
        rmax = _largest_radius(ok.vacuole_radii)
        big, none = rmax >= 4, ok.n_vacuoles_drawn == 0
        called = ok.vacuole_count > 0
        if ct == "PN":
            real_texture_sheet(ph, ok[big], ROOT / "docs" / "img" / "morphology_real_texture.png")
        folder = {"PN": "neutrophil", "MO": "monocyte"}[ct]
        calib = _calibration_names(folder)
        src_cal = ok.source_image.astype(str).map(lambda s: Path(s).name).isin(calib)
        out[ct] = {"cells": len(d), "ok": len(ok), "planted": int((ok.n_vacuoles_drawn > 0).sum()),
                   "cells_radius_ge_4px": int(big.sum()),
                   "called_vacuolated_radius_ge_4px": round(float(called[big].mean()), 4),
                   "called_vacuolated_radius_ge_4px_held_out_sources": (
                       round(float(called[big & ~src_cal].mean()), 4) if calib else None),
                   "cells_radius_ge_4px_held_out_sources": int((big & ~src_cal).sum()),
                   "called_vacuolated_radius_lt_4px": round(float(called[(rmax > 0) & ~big].mean()), 4),
                   "cells_no_vacuole_planted": int(none.sum()),
                   "false_calls_no_vacuole": round(float(called[none].mean()), 4),
                   "missed_vacuoles_radius_ge_4px": why_missed(ph, ok[big])}
    return out


def real_texture_sheet(ph: Path, cells: pd.DataFrame, path: Path, per_row: int = 8) -> Path:
    """The first neutrophils (by name) given a vacuole of radius >= 4 px: a row called vacuolated,
    a row missed; planted vacuoles dashed white, detected ones solid blue."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle
    cells = cells.sort_values("path")
    rows = [cells[cells.vacuole_count > 0].head(per_row), cells[cells.vacuole_count == 0].head(per_row)]
    fig, axes = plt.subplots(2, per_row, figsize=(2 * per_row, 4.4))
    for ax_row, sel, title in zip(axes, rows, ("called vacuolated", "missed")):
        for ax in ax_row:
            ax.axis("off")
        for ax, (_, r) in zip(ax_row, sel.iterrows()):
            img = np.asarray(load_rgb(ph / r.path))
            _, vac = measure_masks(img, segment_cell(img))
            y0, x0 = img.shape[0] // 2 - 90, img.shape[1] // 2 - 90
            ax.imshow(img[y0:y0 + 180, x0:x0 + 180])
            for centre, rad in zip(str(r.vacuole_centers).split(";"), str(r.vacuole_radii).split(";")):
                x, y = map(float, centre.split(":"))
                ax.add_patch(Circle((x - x0, y - y0), float(rad) + 4, fill=False, color="w", lw=1, ls="--"))
            for v in vac:
                ax.add_patch(Circle((v.x - x0, v.y - y0), v.diameter_um / 0.1 / 2 + 2, fill=False, color="#0050ff", lw=1.2))
            ax.set_title(f"{title}: r " + ",".join(str(r.vacuole_radii).split(";")), fontsize=6)
    fig.suptitle("Vacuoles planted into real normal neutrophils (white dashed), detected (blue)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return path


def why_missed(ph: Path, cells: pd.DataFrame) -> dict:
    """For every planted vacuole of radius >= 4 px: found, or the first reason it was not."""
    from scipy import ndimage as ndi

    from vexscreen.morphology import DEFAULT_PARAMS as P
    from vexscreen.morphology.vacuoles import TESTS, candidates, passes

    counts: dict[str, int] = {}
    for _, row in cells.iterrows():
        img = np.asarray(load_rgb(ph / row.path))
        m = segment_cell(img)
        green = ndi.gaussian_filter(img[..., 1].astype(np.float32), 0.7)
        cs = candidates(green, float(m.background[1]), m.cell, m.nucleus, 0.1)
        for centre, r in zip(str(row.vacuole_centers).split(";"), str(row.vacuole_radii).split(";")):
            if float(r) < 4:
                continue
            x, y = map(float, centre.split(":"))
            near = [c for c in cs if np.hypot(c["y"] - y, c["x"] - x) < float(r)]
            if any(passes(c) for c in near):
                why = "found"
            elif near:
                why = next(k for k, f in TESTS.items() if not f(near[0], P))
            elif not m.cytoplasm[int(round(y)), int(round(x))]:
                why = "not in the measured cytoplasm"
            else:
                why = "no pale spot of its own (joined to pale cytoplasm or glass, or core not pale)"
            counts[why] = counts.get(why, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def measure_subset_labeled(root: Path, out: Path, workers: int) -> pd.DataFrame:
    measure_scan(scan_images(root, progress=False), out, workers=workers)
    return pd.read_csv(out / "measurements.csv", keep_default_na=False, na_values=[""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phantom", default="experiments/out/ph_morph", help="phantom made with --cohort study --scale 0.05 --seed 0")
    ap.add_argument("--real-texture", default="experiments/out/ph_real",
                    help="phantom made with --cohort study --scale 0.6 --seed 0 --cell-types PN,MO "
                         "--encoder-test-per-group 0 --source-images ../shared/data/wbc")
    ap.add_argument("--work", default="experiments/out/measure_validation")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    work = Path(args.work)
    res = {"operating_point": dataclasses.asdict(VacuoleParams()), "pixel_size": pixel_size()}
    res["real"], table = real_cells(work, args.workers)
    contact_sheet(table, ROOT / "docs" / "img" / "morphology_flagged_real.png")
    res["phantom"] = phantom(Path(args.phantom), work, args.workers)
    res["real_texture"] = real_texture(Path(args.real_texture), work, args.workers)

    def scale(ph):  # as the phantom was made (its phantom.json), not as assumed
        return json.loads((Path(ph) / "phantom.json").read_text())["scale"]

    res["commands"] = {"phantom": f"python -m vexscreen.cli phantom --cohort study --scale {scale(args.phantom)} "
                                  f"--out {portable(args.phantom)} --seed 0",
                       "real_texture": f"python -m vexscreen.cli phantom --cohort study --scale {scale(args.real_texture)} "
                                       "--seed 0 --cell-types PN,MO "
                                       "--encoder-test-per-group 0 --source-images ../shared/data/wbc "
                                       f"--out {portable(args.real_texture)}",
                       "this": "PYTHONPATH=src python experiments/measure_validation.py"}
    write_results(ROOT / "experiments" / "results" / "measure_validation.json", res)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
