"""Encoder variants against the phantom's feature recovery: does an encoder see the VEXAS vacuoles?

Each variant is the demo's training (ResNet18, NNCLR queue 0, batch 64, Adam 1e-3,
colour distortion 0.5, 128 px views from the centred 192 px field at full
resolution, 1,000 images of the proof's study phantom) with some settings
changed; it is trained, then probed on a larger phantom's cells (`--probe-phantom`,
default the study phantom at scale 0.2: 694 VEXAS neutrophils, 184 of them
vacuolated): within VEXAS neutrophils and monocytes, vacuolated vs not; within
UBA1-WT neutrophils, toxic granulation vs not (`vexscreen.phantom.recovery`). The
first row is no encoder: a crude hand-made bright-spot detector probed the same
way (`pixel_reference`), to show what the pixels carry.

Run: `.venv/bin/python experiments/encoder_variants.py [--variants untrained,field192,...]`
(needs `experiments/phantom_proof.py` run first for the training pool; finished variants
are kept). Writes experiments/out/variants/<name>/ and prints one table. Variants are
trained 6 epochs unless set; docs/experiments.md's `field192` row is the proof's own
encoder (4 epochs, then `--resume` to 10), copied into place, and its
`field192_15ep`/`field192_20ep` rows are that encoder resumed to 15 and 20 epochs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _provenance import write_results  # noqa: E402

VARIANTS = {
    "untrained": {"epochs": 0},
    "field192": {"epochs": 10},                                 # the demo's settings, the proof's encoder
    "field192_max": {"pooling": "max"},                         # max pooling keeps sparse local features
    "scale1.5_field288_crop160": {"scale": 1.5, "field": 288, "crop": 160},
    "scale2_field384_crop128": {"scale": 2.0, "field": 384, "crop": 128},   # local zoomed views
    "field192_local64": {"local_crop": 64},                      # local-to-global pairs
    "field192_queue1024": {"queue_size": 1024},                  # NNCLR nearest-neighbour positives
    "field192_multicrop4x64": {"local_crop": 64, "n_local": 4},  # two whole views + four 64 px patches
    "field192_15ep": {"epochs": 15},                             # longer: the table's are the proof's
    "field192_20ep": {"epochs": 20},                             #   encoder resumed to 15 and 20 epochs
    "field176_crop160": {"epochs": 10, "field": 176, "crop": 160},  # views keep the whole cell (+-8 px shifts)
    "field192_dense0.5": {"epochs": 10, "dense": 0.5},           # DenseCL-style term on the feature maps
    "pn0.2_all_4ep": {"epochs": 4, "pool": "phantom_study_0.2/PN", "max_images": None},  # 4x the cells, PN only
}


def train_variant(name: str, settings: dict, pool: Path, out: Path) -> Path:
    from dataclasses import replace

    from vexscreen.demo import demo_train_config

    settings = dict(settings)
    epochs = settings.pop("epochs", 6)
    if "pool" in settings:  # a folder under the output folder (the probe phantom's own cells)
        pool = out / settings.pop("pool")
    cfg = replace(demo_train_config(max_images=1000, epochs=max(epochs, 1)), **settings)  # validated
    run = out / name
    if (run / "encoder.pt").is_file():
        return run / "encoder.pt"
    from vexscreen.encoder.training import save_untrained_encoder, train_encoder

    if epochs == 0:
        run.mkdir(parents=True, exist_ok=True)
        return save_untrained_encoder(run / "encoder.pt", cfg)
    train_encoder(pool, run, cfg, progress=True)
    return run / "encoder.pt"


def probe_variant(encoder_path: Path, phantom: Path) -> list[dict]:
    from vexscreen.encoder.encoder_file import read_encoder_file
    from vexscreen.encoder.inference import FullSizeImages, encode_dataset
    from vexscreen.phantom import read_truth
    from vexscreen.phantom.recovery import feature_recovery

    truth = read_truth(phantom)
    encoder_file = read_encoder_file(encoder_path)
    encoder = encoder_file.build()
    rows = []
    for ct, groups in (("PN", ("VEXAS", "UBA1-WT")), ("MO", ("VEXAS",))):
        t = truth[(truth["set"] == "cohort") & (truth["cell_type"] == ct) & truth["group"].isin(groups)]
        paths = [phantom / p for p in t["path"]]
        sizes = []
        for p in paths:
            with Image.open(p) as im:  # header only
                sizes.append(im.size)
        ds = FullSizeImages.for_encoder(paths, sizes, encoder_file.geometry)  # as encode sees them
        X = encode_dataset(encoder, ds, workers=2, progress=True, desc=f"encode {ct}")
        meta = pd.DataFrame({"IMAGE": t["path"].str.slice(len(ct) + 1).to_numpy()})
        rows += [r for r in feature_recovery(X, meta, truth, ct) if r["auc"] is not None]
    return rows


def vacuole_contrast(phantom: Path, cells: int = 60) -> str:
    """How visible the drawn vacuoles are: grey level inside each vacuole (inner 70%) minus the
    ring 2-6 px outside it, against that ring's own spread (first ``cells`` vacuolated VEXAS PN)."""
    import numpy as np

    from vexscreen.phantom import read_truth

    t = read_truth(phantom)
    t = t[(t["set"] == "cohort") & (t["cell_type"] == "PN") & (t["group"] == "VEXAS")
          & (t["n_vacuoles_drawn"] > 0)].head(cells)
    diff, spread = [], []
    for _, r in t.iterrows():
        with Image.open(phantom / r["path"]) as im:
            g = np.asarray(im.convert("L"), dtype=float)
        yy, xx = np.mgrid[:g.shape[0], :g.shape[1]]
        for c, rad in zip(r["vacuole_centers"].split(";"), r["vacuole_radii"].split(";")):
            x, y = map(float, c.split(":"))
            d = np.hypot(yy - y, xx - x)
            ring = g[(d > float(rad) + 2) & (d < float(rad) + 6)]
            diff.append(g[d < 0.7 * float(rad)].mean() - ring.mean())
            spread.append(ring.std())
    return (f"vacuole contrast ({len(diff)} vacuoles): inside minus surrounding ring {np.median(diff):.0f} "
            f"grey levels (10-90%: {np.percentile(diff, 10):.0f}-{np.percentile(diff, 90):.0f}); "
            f"ring standard deviation {np.median(spread):.0f}")


def bright_spot_features(path: Path, field: int = 192) -> list[float]:
    """A crude hand-made vacuole detector (no learning, no labels), the probe's pixel reference.

    In the centred ``field`` square: the cell = the dark connected region at the centre, the
    nucleus = its darkest quarter, the cytoplasm = the rest, eroded 3 px from both; "bright" =
    smoothed grey level minus its 21 px median background. Features: the cytoplasm's brightest
    spot, its 99th and 95th percentiles, the number of bright (> 18) spots of >= 10 px, the
    largest spot's area.
    """
    import numpy as np
    from scipy import ndimage as ndi

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32)
    h, w, _ = rgb.shape
    half = field // 2
    rgb = rgb[max(0, h // 2 - half):h // 2 + half, max(0, w // 2 - half):w // 2 + half]
    g = rgb.mean(2)
    dark = ndi.binary_opening(g < np.percentile(g, 90) - 25, iterations=2)
    lab, n = ndi.label(dark)
    centre = lab[g.shape[0] // 2, g.shape[1] // 2]
    if centre == 0 and n:
        centre = int(np.bincount(lab.ravel())[1:].argmax()) + 1
    cell = ndi.binary_fill_holes(lab == centre) if n else np.zeros_like(dark)
    if cell.sum() < 50:
        return [0.0] * 5
    nucleus = g < np.percentile(g[cell], 25)
    cyto = ndi.binary_erosion(cell & ~ndi.binary_dilation(nucleus, iterations=3), iterations=3)
    bright = ndi.gaussian_filter(g, 1.5) - ndi.median_filter(g, size=21)
    v = bright[cyto] if cyto.sum() > 20 else np.zeros(1, np.float32)
    spots, nb = ndi.label((bright > 18) & cyto)
    areas = np.bincount(spots.ravel())[1:] if nb else np.zeros(1)
    return [float(v.max()), float(np.percentile(v, 99)), float(np.percentile(v, 95)),
            float((areas >= 10).sum()), float(areas.max())]


def pixel_reference(phantom: Path) -> list[dict]:
    """The vacuole probe on :func:`bright_spot_features` instead of encodings: what a crude
    detector finds in the same pixels (VEXAS neutrophils and monocytes)."""
    import numpy as np

    from vexscreen.phantom import read_truth
    from vexscreen.phantom.recovery import feature_recovery

    truth = read_truth(phantom)
    rows = []
    for ct in ("PN", "MO"):
        t = truth[(truth["set"] == "cohort") & (truth["cell_type"] == ct) & (truth["group"] == "VEXAS")]
        X = np.array([bright_spot_features(phantom / p) for p in t["path"]])
        meta = pd.DataFrame({"IMAGE": t["path"].str.slice(len(ct) + 1).to_numpy()})
        rows += [r for r in feature_recovery(X, meta, truth, ct) if r["feature"] == "vacuoles" and r["auc"] is not None]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--pool", type=Path, default=Path("experiments/out/proof/study_f192/pool"))
    ap.add_argument("--probe-phantom", type=Path, default=Path("experiments/out/variants/phantom_study_0.2"))
    ap.add_argument("--out", type=Path, default=Path("experiments/out/variants"))
    args = ap.parse_args()
    if not args.pool.is_dir():
        raise SystemExit(f"{args.pool} missing: run experiments/phantom_proof.py first (its training pool)")
    from vexscreen.phantom import make_cohort

    make_cohort(args.probe_phantom, cohort="study", scale=0.2, seed=0, workers=2, encoder_test_per_group=20,
                progress=True)
    print(vacuole_contrast(args.probe_phantom))
    ref = args.out / "pixel_reference.json"
    if not ref.is_file():
        ref.write_text(json.dumps(pixel_reference(args.probe_phantom), indent=1))
    table = [{"variant": "pixel reference (hand-made detector, no encoder)",
              **{f"{r['cell_type']} {r['feature']}": round(r["auc"], 2) for r in json.loads(ref.read_text())}}]
    probes = {}
    for name in args.variants.split(","):
        enc = train_variant(name, VARIANTS[name], args.pool, args.out)
        result = args.out / name / "probe.json"
        if result.is_file():
            rows = json.loads(result.read_text())
        else:
            rows = probe_variant(enc, args.probe_phantom)
            result.write_text(json.dumps(rows, indent=1))
        table.append({"variant": name, **{f"{r['cell_type']} {r['feature']}": round(r["auc"], 2) for r in rows}})
        print(pd.DataFrame(table).to_string(index=False), flush=True)
        probes[name] = rows
    write_results(args.out / "summary.json", {"pixel_reference": json.loads(ref.read_text()), "probe": probes})
    print(f"wrote {args.out / 'summary.json'} (experiments/results/encoder_variants.json is a copy, "
          "with training losses)")


if __name__ == "__main__":
    main()
