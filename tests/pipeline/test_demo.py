"""The demo's command line: what it hands to the pipeline, and how it fails on bad input.

The demo run itself (about 6 minutes) is `make demo`; its numbers are in the README.
"""
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
    steps = []
    r = run_demo(tmp_path, plots=False, workers=1, phantom={"scale": 0.01},
                 on_step=lambda step, info: steps.append((step, info)))
    assert [s for s, _ in steps] == ["published", "published_table", "published_table", "published_table",
                                     "synthetic", "synthetic_rows", "phantom", "phantom_done", "pipeline",
                                     "pipeline_done", "done"]
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
    assert capsys.readouterr() == ("", "")
