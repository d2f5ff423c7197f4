"""The demo's command line: what it hands to the pipeline, and how it fails on bad input;
its screening step (5) for real on a tiny phantom.

The demo run itself (about 10 minutes) is `make demo`; its numbers are in the README.
"""
from pathlib import Path

import pytest

from vexscreen.cli import main
from vexscreen.exceptions import InputError
from vexscreen.demo import demo_train_config, run_demo


def test_demo_config_carries_backbone_and_weights(tmp_path):
    cfg = demo_train_config(backbone="resnet50", weights=tmp_path / "w.pth")
    assert (cfg.backbone, cfg.weights) == ("resnet50", str(tmp_path / "w.pth"))
    assert demo_train_config().weights is None and demo_train_config().field == 192


def test_missing_weights_fail_before_any_work(tmp_path):
    out = tmp_path / "demo"
    with pytest.raises(InputError, match="weights file not found"):
        run_demo(out, train_config=demo_train_config(weights=tmp_path / "missing.pth"))
    assert not out.exists()  # nothing drawn or trained first


def test_cli_weights_that_do_not_fit_the_backbone(tmp_path, capsys):
    import torch

    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    assert main(["demo", "--out", str(tmp_path / "demo"), "--weights", str(tmp_path / "bad.pth")]) == 2
    err = capsys.readouterr().err
    assert "bad.pth" in err and "do not fit torchvision resnet18" in err
    assert not (tmp_path / "demo").exists()


def test_steps_reported_in_order_with_their_results(tmp_path, monkeypatch, capsys):
    """run_demo reports each step through on_step and returns every result; it prints nothing.
    The heavy stages (synthetic evaluation, phantom, training) are stood in for: their own tests
    cover them; this one checks the orchestration and the real Step 2a on the published encodings."""
    import numpy as np

    import vexscreen.demo as demo
    import vexscreen.phantom
    import vexscreen.pipeline
    from vexscreen.study import ENCODER_TEST_GROUPS

    calls = {}
    monkeypatch.setattr(demo, "synthetic_evaluation", lambda out, n_jobs: [{"row": "synthetic"}])
    monkeypatch.setattr(vexscreen.phantom, "make_cohort",
                        lambda out, **kw: calls.setdefault("phantom", (out, kw))[0])
    monkeypatch.setattr(vexscreen.pipeline, "run_image_pipeline",
                        lambda ph, out, cfg, **kw: calls.setdefault("pipeline", {"images": ph, "cfg": cfg}))

    def measuring(out, pipeline_out, phantom, *, workers, n_jobs, on_step):
        calls["measurements"] = (out, pipeline_out, phantom, workers)
        on_step("measurements", {})
        on_step("measurements_done", {})
        return {"measured": True}

    def screening(out, pipeline_out, phantom, *, workers, on_step, measured):
        calls["screening"] = (out, pipeline_out, phantom, workers, measured)
        for step in ("screening", "screening_model", "screened", "screened", "screening_done"):
            on_step(step, {})
        return {"screened": True}

    monkeypatch.setattr(demo, "measurement_demo", measuring)
    monkeypatch.setattr(demo, "screening_demo", screening)
    steps = []
    r = run_demo(tmp_path, plots=False, workers=1, phantom={"scale": 0.01},
                 on_step=lambda step, info: steps.append((step, info)))
    assert [s for s, _ in steps] == ["published", "published_table", "published_table", "published_table",
                                     "synthetic", "synthetic_rows", "phantom", "phantom_done", "pipeline",
                                     "pipeline_done", "measurements", "measurements_done", "screening", "screening_model", "screened", "screened",
                                     "screening_done", "done"]
    assert list(demo.DEMO_STEPS) == list(dict.fromkeys(s for s, _ in steps))
    for (_, info), ct in zip(steps[1:4], ("PN", "MO", "LY")):
        order, M = r["consistency"][ct]
        assert info["cell_type"] == ct and info["order"] == order == list(ENCODER_TEST_GROUPS[ct])
        assert info["auc"] is M and np.isfinite(M[np.triu_indices(len(order), 1)]).all()
        assert (tmp_path / "published_consistency" / f"{ct}.csv").is_file()
    assert r["consistency"]["MO"][1][0, 1] == pytest.approx(0.937111, abs=5e-7)  # the study's table
    assert steps[5][1]["rows"] == r["synthetic"] == [{"row": "synthetic"}]
    out, kw = calls["phantom"]
    assert out == tmp_path / "phantom" and kw["scale"] == 0.01 and kw["cohort"] == "study" and kw["workers"] == 1
    assert steps[6][1] == {"scale": 0.01} and steps[7][1]["folder"] == out
    assert calls["pipeline"]["images"] == out and calls["pipeline"]["cfg"] == demo_train_config()
    assert steps[8][1]["config"] == demo_train_config() and steps[9][1]["result"] is r["pipeline"]
    assert calls["measurements"] == (tmp_path / "measurements", tmp_path / "pipeline", out, 1)
    assert calls["screening"] == (tmp_path / "screening", tmp_path / "pipeline", out, 1, tmp_path / "measurements")
    assert r["screening"] == {"screened": True} and r["measurements"] == {"measured": True}
    assert capsys.readouterr() == ("", "")


def measure_like_morphology(scan, out_dir, *, workers: int = 1):
    """A stand-in in the shape of vexscreen.morphology.measure_scan: raw values in measurements.csv,
    encodings z-scored over this scan, a flat measure.json with columns/mean/std; returns the summary."""
    import numpy as np
    import pandas as pd

    from vexscreen.data import save_encodings, write_csv, write_json
    from vexscreen.data.scan import load_rgb

    columns = ["vacuole_count", "pale_share", "mean_red"]
    values = []
    for rec in scan.images:
        a = np.asarray(load_rgb(rec.path), dtype=float)
        pale = float((a.min(axis=2) > 225).mean())
        values.append([round(100 * pale), pale, a[..., 0].mean()])
    values = np.asarray(values)
    mean, std = values.mean(0), np.where(values.std(0) > 1e-12, values.std(0), 1.0)
    save_encodings(out_dir, ((values - mean) / std).astype(np.float32), scan.metadata())
    table = pd.concat([scan.metadata(), pd.DataFrame(values, columns=columns)], axis=1).assign(quality="ok")
    write_csv(Path(out_dir) / "measurements.csv", table)
    summary = {"version": 1, "pixel_size_um": 0.1, "columns": columns, "mean": dict(zip(columns, mean)),
               "std": dict(zip(columns, std)), "images": len(values), "seconds": 0.0}
    write_json(Path(out_dir) / "measure.json", summary)
    return summary


def _encoded_phantom(tmp_path, scale):
    """A small PN phantom in tmp_path/phantom, encoded by an untrained encoder into
    tmp_path/pipeline/encodings/PN (the layout the demo's steps read)."""
    from vexscreen.encoder.config import TrainConfig
    from vexscreen.encoder.training import save_untrained_encoder
    from vexscreen.phantom import make_cohort
    from vexscreen.pipeline import encode_folder

    ph = make_cohort(tmp_path / "phantom", cohort="small", scale=scale, seed=0, cell_types=("PN",),
                     encoder_test_per_group=0)
    encoder = save_untrained_encoder(tmp_path / "pipeline" / "encoder" / "encoder.pt",
                                     TrainConfig(full_size=64, field=64, crop=32, scale=0.25, workers=0))
    encode_folder(encoder, ph / "PN", tmp_path / "pipeline" / "encodings" / "PN", workers=0, progress=False)
    return ph


def test_screening_step_on_held_out_phantom(tmp_path, monkeypatch):
    """Step 5 for real, tiny: a model fitted on one phantom's encodings screens held-out phantom
    patients drawn with another seed, arranged as patient folders; reports, index and the text."""
    import json
    import os

    from vexscreen.demo import CLASS_FOLDERS, screening_demo
    from vexscreen.report import format_demo_step

    ph = _encoded_phantom(tmp_path, scale=0.7)
    steps = []
    r = screening_demo(tmp_path / "screening", tmp_path / "pipeline", ph, workers=1,
                       on_step=lambda step, info: steps.append((step, info)),
                       settings=dict(cell_types=("PN",), n_aggregates=10, min_cells=8, n_bootstrap=8),
                       heldout=dict(scale=0.7, cell_types=("PN",)), measurements=False)
    assert [s for s, _ in steps] == ["screening", "screening_model"] + ["screened"] * 6 + ["screening_done"]
    names = [p["patient"] for p in r["patients"]]
    assert names == [f"phantom-{g}-{k}" for g in ("MDS", "UBA1-WT", "VEXAS") for k in (1, 2)]
    assert [p["truth"] for p in r["patients"]] == [n.split("-", 1)[1].rsplit("-", 1)[0] for n in names]
    # never seen: drawn with another seed, and no held-out image is one of the reference's
    held = tmp_path / "screening" / "heldout_phantom"
    assert json.loads((held / "phantom.json").read_text())["seed"] == 1
    ref_bytes = {p.read_bytes() for p in ph.rglob("*.png")}
    assert not any(p.read_bytes() in ref_bytes for p in held.rglob("*.png"))
    model = steps[1][1]["model"]
    assert set(model.n_cells_["PN"]) == {"MDS[1]", "MDS[2]", "UBA1-WT[1]", "UBA1-WT[2]", "VEXAS[1]", "VEXAS[2]"}
    # a patient folder: <smear>/neutrophil/<image>, relative links into the held-out phantom
    links = sorted((tmp_path / "screening" / "patients" / "phantom-VEXAS-2").rglob("*.png"))
    assert len(links) == 8 and {p.parent.name for p in links} == {CLASS_FOLDERS["PN"]}
    assert all(p.is_symlink() and not os.path.isabs(os.readlink(p)) for p in links)
    assert {p.resolve().parent.parent for p in links} == {held / "PN" / "VEXAS" / "VEXAS[2]"}
    for p in r["patients"]:
        report = json.loads((p["report"].parent / "report.json").read_text())
        assert p["report"].name == "report.html" and p["report"].is_file()
        assert report["patient"] == p["patient"] and report["probability"] == p["result"].probability
        assert report["cell_types"]["PN"]["n_cells"] == 8 and report["verdict"] != "indeterminate"
    index = r["index"].read_text()
    assert all(f"{n}/report.html" in index for n in names)
    text = [format_demo_step(s, i) for s, i in steps]
    flat = " ".join(text[0].split())
    assert "on the phantom cohort's neutrophils (encodings)" in flat and "10 mean aggregates per patient" in flat
    assert text[2].startswith("   phantom-MDS-1 (truly MDS): ") and str(r["patients"][0]["report"]) in text[2]
    assert r["patients"][0]["result"].statement in text[2]
    assert str(r["index"]) in text[-1] and "CNN encodings alone" in text[-1]

    # with a measuring step installed (vexscreen.morphology's shape), the same step uses it
    monkeypatch.setattr("vexscreen.screen.measuring.default_measure_fn", lambda: measure_like_morphology)
    steps.clear()
    r = screening_demo(tmp_path / "screening", tmp_path / "pipeline", ph, workers=1,
                       on_step=lambda step, info: steps.append((step, info)),
                       settings=dict(cell_types=("PN",), n_aggregates=10, min_cells=8, n_bootstrap=8),
                       heldout=dict(scale=0.7, cell_types=("PN",)))
    assert steps[0][1]["uses"] == ["encodings", "measurements"] == steps[1][1]["model"].uses
    assert (tmp_path / "screening" / "measurements" / "PN" / "measure.json").is_file()  # the reference's
    report = json.loads((r["patients"][0]["report"].parent / "report.json").read_text())
    assert report["model"]["uses"] == ["encodings", "measurements"]
    assert [m["name"] for m in report["measurements"]][:1] == ["vacuolated neutrophils"]
    assert "encodings and the cell measurements" in format_demo_step(*steps[-1])


def test_screening_step_asked_for_measurements_without_a_measuring_step(tmp_path, monkeypatch):
    from vexscreen.demo import screening_demo

    monkeypatch.setattr("vexscreen.screen.measuring.default_measure_fn", lambda: None)
    with pytest.raises(InputError, match="vexscreen.morphology is not installed"):
        screening_demo(tmp_path / "s", tmp_path / "pipeline", tmp_path / "phantom", measurements=True)
    assert not (tmp_path / "s").exists()


def test_measurement_step_tables_and_rows(tmp_path):
    """The measurement step for real on a tiny phantom (vexscreen.morphology measures its cells):
    the groups' table per cell type, the VEXAS comparisons on measurements and on encodings +
    measurements with mean aggregates, their JSON, and the text."""
    import json

    from vexscreen.demo import DEMO_MEASUREMENTS, measurement_demo
    from vexscreen.report import format_demo_step

    ph = _encoded_phantom(tmp_path, scale=0.5)
    steps = []
    r = measurement_demo(tmp_path / "m", tmp_path / "pipeline", ph, workers=1, n_jobs=1, cell_types=("PN",),
                         on_step=lambda step, info: steps.append((step, info)),
                         evaluate_kwargs=dict(iterations=2, aggregates=10))
    assert [s for s, _ in steps] == ["measurements", "measurements_done"]
    assert steps[0][1] == DEMO_MEASUREMENTS and DEMO_MEASUREMENTS["statistic"] == "mean"
    table = r["tables"]["PN"]["table"]
    assert table[table["level"] == "group"]["GROUP"].tolist() == ["MDS", "UBA1-WT", "VEXAS"]
    for variant in ("measurements", "encodings + measurements"):
        assert [row["comparison"] for row in r["rows"][variant]] == ["VEXAS vs UBA1-WT", "VEXAS vs MDS"]
    saved = json.loads((tmp_path / "m" / "evaluation_PN_MDS_VEXAS_encodings+measurements.json").read_text())
    assert saved["parameters"]["statistic"] == "mean" and saved["groups"] == ["MDS", "VEXAS"]
    text = format_demo_step(*steps[1])
    assert "[PN: neutrophils, measurements per group]" in text and "[encodings + measurements]" in text
    assert "VEXAS[1]" not in text  # groups only, no per-patient lines
