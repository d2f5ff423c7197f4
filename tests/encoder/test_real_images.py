"""End to end on real CellaVision images (a few per class): train-encoder -> encode -> consistency."""
import json
import os

import numpy as np
import pandas as pd

from vexscreen.cli import main

GROUPS = {"band": ("neutrophil", "BNE_"), "segmented": ("neutrophil", "SNE_"),
          "monocyte": ("monocyte", "MO_"), "lymphocyte": ("lymphocyte", "LY_")}


def test_train_encode_consistency_on_real_images(wbc_dir, tmp_path):
    test, pool = tmp_path / "test", tmp_path / "pool"
    pool.mkdir()
    for group, (folder, prefix) in GROUPS.items():
        names = sorted(n for n in os.listdir(wbc_dir / folder) if n.startswith(prefix))
        (test / group).mkdir(parents=True)
        for n in names[:10]:
            os.symlink(wbc_dir / folder / n, test / group / n)
        for n in names[10:14]:
            os.symlink(wbc_dir / folder / n, pool / n)
    run, enc, cons = tmp_path / "run", tmp_path / "enc", tmp_path / "cons"
    assert main(["train-encoder", "--images", str(pool), "--out", str(run), "--epochs", "1", "--batch-size", "8",
                 "--lr", "1e-3", "--scale", "0.25", "--crop", "64", "--full-size", "96", "--workers", "0",
                 "--no-progress"]) == 0
    assert main(["encode", "--encoder", str(run / "encoder.pt"), "--images", str(test), "--out", str(enc),
                 "--workers", "0", "--no-progress"]) == 0
    summary = json.loads((enc / "encode.json").read_text())
    assert summary["images"] == 40 and summary["input_size"] == 96 and summary["oversize_images"] == 0
    meta = pd.read_csv(enc / "encoder_test_metadata.csv")
    assert sorted(meta["GROUP"].unique()) == sorted(GROUPS) and meta["IMAGE"].is_monotonic_increasing
    X = np.load(enc / "encoder_test_encodings.npy")
    assert X.shape == (40, 512) and np.isfinite(X).all()
    assert main(["consistency", str(enc), "--groups", ",".join(GROUPS), "--out", str(cons), "--no-plots"]) == 0
    m = pd.read_csv(cons / "consistency.csv", index_col=0)
    assert m.loc["band", "lymphocyte"] > 0.5  # cell types apart even after one tiny epoch
