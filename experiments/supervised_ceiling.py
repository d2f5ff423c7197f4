"""Diagnostic: can the proof's backbone see the phantom's vacuoles when it is *told* which cells have them?

Feature recovery (`vexscreen.phantom.recovery`) finds no vacuoles in any
self-supervised encoding (README, "The proof"). This separates "the backbone at this
resolution cannot see them from a few hundred cells" from "the self-supervised
objective never asks for them": ResNet18, random init, trained *supervised* on the
VEXAS neutrophils of the scale-0.2 study phantom (vacuolated or not), folds grouped
by patient as in the probe (train on two patients, score the third), same input as
the encoders (the centred 192 px field, flips and quarter turns as augmentation).
Score: mean within-fold ROC-AUC, beside the probe's pixel reference.

`--synthetic N --patients P` asks the same with more data: N VEXAS neutrophils
drawn afresh by the phantom's renderer for P new VEXAS pseudo-patients (each its
own phenotype and smear), the field cut as above; `--max-folds 1` scores one
held-out third of the patients only.

Not part of vexscreen: the tool stays self-supervised, as in the study.
Run: `.venv/bin/python experiments/supervised_ceiling.py [--epochs 8]` (12 min on 2 cores);
`--synthetic 3600 --patients 9 --epochs 5 --max-folds 1` (about 15 min).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from torch import nn
from torchvision.transforms.v2 import functional as TF

from vexscreen.encoder.backbones import build_backbone
from vexscreen.encoder.transforms import read_image_tensor
from vexscreen.phantom import read_truth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _provenance import write_results  # noqa: E402


def load_field(path: Path, field: int = 192) -> torch.Tensor:
    """The centred field x field square, as the field encoders see it (uint8 3 x field x field)."""
    return TF.center_crop(read_image_tensor(str(path), 1.0), [field, field])


def synthetic_cells(n: int, patients: int, seed: int = 7, field: int = 192):
    """n VEXAS neutrophils from ``patients`` new pseudo-patients: (uint8 fields, vacuolated, patient)."""
    from vexscreen.phantom.phenotypes import cell_spec, patient_phenotype, smear_nuisance
    from vexscreen.phantom.render import render

    fields, y, who = [], [], []
    per = n // patients
    for i in range(patients):
        name = f"VEXAS[{100 + i}]"
        pheno = patient_phenotype("VEXAS", name, seed)
        rng = np.random.default_rng([seed, i])
        for j in range(per):
            smear = smear_nuisance(f"{name}-s{j % 2}", seed)
            r = render(cell_spec("PN", pheno, smear, rng), rng)
            img = torch.from_numpy(np.array(r.image, dtype=np.uint8)).permute(2, 0, 1)
            fields.append(TF.center_crop(img, [field, field]).clone())
            y.append(r.drawn["n_vacuoles_drawn"] > 0)
            who.append(name)
        print(f"  {name}: {per} cells, {int(np.sum(y[-per:]))} vacuolated", flush=True)
    return torch.stack(fields), np.array(y, np.float32), np.array(who)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phantom", type=Path, default=Path("experiments/out/variants/phantom_study_0.2"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("experiments/out/supervised_ceiling.json"))
    ap.add_argument("--synthetic", type=int, default=0, metavar="N", help="N freshly drawn cells instead")
    ap.add_argument("--patients", type=int, default=9)
    ap.add_argument("--max-folds", type=int, default=3)
    args = ap.parse_args()
    if args.synthetic:
        X, y, patients = synthetic_cells(args.synthetic, args.patients)
    else:
        truth = read_truth(args.phantom)
        t = truth[(truth["set"] == "cohort") & (truth["cell_type"] == "PN") & (truth["group"] == "VEXAS")]
        X = torch.stack([load_field(args.phantom / p) for p in t["path"]])  # uint8, N x 3 x 192 x 192
        y = (t["n_vacuoles_drawn"] > 0).to_numpy().astype(np.float32)
        patients = t["patient"].to_numpy()
    print(f"{len(y)} VEXAS neutrophils, {int(y.sum())} vacuolated, {len(set(patients))} patients")
    aucs, t0 = [], time.perf_counter()
    for fold, (tr, te) in enumerate(StratifiedGroupKFold(n_splits=3).split(X, y, patients)):
        if fold >= args.max_folds:
            break
        torch.manual_seed(43 + fold)
        gen = torch.Generator().manual_seed(43 + fold)
        enc = build_backbone("resnet18")
        model = nn.Sequential(enc, nn.Linear(enc.dim, 1))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        pos_weight = torch.tensor((1 - y[tr].mean()) / y[tr].mean())
        lossf = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        for epoch in range(args.epochs):
            model.train()
            order = torch.randperm(len(tr), generator=gen)
            total = 0.0
            for i in range(0, len(tr), 32):
                idx = tr[order[i:i + 32].numpy()]
                xb = X[idx].float().div(255)
                k = int(torch.randint(0, 4, (1,), generator=gen))
                xb = torch.rot90(xb, k, (2, 3))
                if torch.rand(1, generator=gen) < 0.5:
                    xb = xb.flip(3)
                loss = lossf(model(xb).squeeze(1), torch.from_numpy(y[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            print(f"fold {fold} epoch {epoch} loss {total / len(tr):.3f}", flush=True)
        model.eval()
        with torch.inference_mode():
            s = torch.cat([model(X[te[i:i + 64]].float().div(255)).squeeze(1) for i in range(0, len(te), 64)])
        aucs.append(float(roc_auc_score(y[te], s.numpy())))
        print(f"fold {fold}: held-out patient AUC {aucs[-1]:.3f}", flush=True)
    result = {"data": f"{args.synthetic} new cells, {args.patients} pseudo-patients" if args.synthetic
              else str(args.phantom), "cells": int(len(y)), "vacuolated": int(y.sum()),
              "train_cells_per_fold": int(len(y) * 2 / 3), "epochs": args.epochs, "fold_auc": aucs,
              "mean_auc": float(np.mean(aucs)), "seconds": round(time.perf_counter() - t0, 1)}
    write_results(args.out, result)
    print(f"supervised ResNet18, mean within-fold AUC {result['mean_auc']:.2f} "
          f"(pixel reference 0.85, best self-supervised encoder 0.58); {result['seconds']} s")


if __name__ == "__main__":
    main()
