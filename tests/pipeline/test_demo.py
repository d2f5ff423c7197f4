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
