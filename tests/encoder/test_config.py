"""TrainConfig and Geometry: one validation, naming the flags; the CLI options built from the fields."""
import argparse
from dataclasses import asdict

import pytest

from vexscreen.cli import build_parser, main
from vexscreen.encoder.config import Geometry, TrainConfig, option_fields
from vexscreen.exceptions import InputError

# the flags users type: renaming one breaks their scripts
TRAIN_FLAGS = {"--backbone", "--pooling", "--method", "--queue-size", "--temperature", "--lr", "--lr-floor",
               "--batch-size", "--epochs", "--patience", "--seed", "--crop", "--color-jitter", "--local-crop",
               "--n-local", "--dense", "--field", "--scale", "--full-size", "--max-images", "--workers",
               "--weights"}


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train-encoder"]


def test_cli_options_are_the_config_fields():
    parser = _train_parser()
    flags = {s for a in parser._actions for s in a.option_strings}
    assert TRAIN_FLAGS <= flags
    assert {f.name for f, _ in option_fields()} == {f[2:].replace("-", "_") for f in TRAIN_FLAGS}
    args = parser.parse_args(["--images", "x", "--out", "y"])
    assert TrainConfig(**{f.name: getattr(args, f.name) for f, _ in option_fields()}) == TrainConfig()
    args = parser.parse_args(["--images", "x", "--out", "y", "--field", "192", "--lr", "1e-3",
                              "--local-crop", "64", "--backbone", "vgg16", "--weights", "w.pth"])
    assert (args.field, args.lr, args.local_crop, args.backbone, args.weights) == (192, 1e-3, 64, "vgg16", "w.pth")
    with pytest.raises(SystemExit):
        parser.parse_args(["--images", "x", "--out", "y", "--pooling", "median"])


@pytest.mark.parametrize("settings, message", [
    ({"batch_size": 1}, "--batch-size must be at least 2"),
    ({"epochs": 0}, "--epochs must be at least 1"),
    ({"queue_size": -1}, "--queue-size must be at least 0"),
    ({"patience": -1}, "--patience must be at least 0"),
    ({"workers": -1}, "--workers must be at least 0"),
    ({"temperature": 0.0}, "--temperature must be > 0"),
    ({"lr": -1e-5}, "--lr must be > 0"),
    ({"lr_floor": -1.0}, "--lr-floor must be at least 0"),
    ({"color_jitter": -0.5}, "--color-jitter must be at least 0"),
    ({"seed": -1}, "--seed must be between 0 and 4294967295"),
    ({"max_images": 1}, "--max-images must be at least 2"),
    ({"dense": 1.5}, "--dense must be between 0 and 1, got 1.5"),
    ({"scale": 0.0}, "--scale must be > 0"),
    ({"full_size": 0}, "--full-size must be at least 1, got 0"),
    ({"full_size": 16}, "--full-size 16 is below resnet18's minimum input side 32"),
    ({"crop": 16}, "--crop 16 is below resnet18's minimum input side 32"),
    ({"backbone": "inception_v3", "crop": 64}, "--crop 64 is below inception_v3's minimum input side 75"),
    ({"field": 100}, "--field 100 is smaller than --crop 128"),
    ({"local_crop": 200}, "--local-crop 200 must be between resnet18's minimum input side 32 and --crop 128"),
    ({"n_local": 2}, "--n-local needs --local-crop"),
    ({"n_local": -1}, "--n-local must be at least 0, got -1"),
    ({"n_local": 2, "local_crop": 64, "queue_size": 8}, "--queue-size 0 only"),
    ({"dense": 0.5, "local_crop": 64}, "not with --local-crop"),
    ({"backbone": "alexnet"}, "unknown --backbone 'alexnet'"),
    ({"method": "byol"}, "unknown --method 'byol'"),
    ({"head_out": 0}, "--head-out must be at least 1"),
])
def test_every_setting_is_range_checked_once_naming_its_flag(settings, message):
    with pytest.raises(InputError, match=message.replace("*", r"\*")):
        TrainConfig(**settings)
    cfg = TrainConfig()  # a config changed after construction is checked again by validate()
    for k, v in settings.items():
        setattr(cfg, k, v)
    with pytest.raises(InputError, match=message.replace("*", r"\*")):
        cfg.validate()


def test_cli_reports_a_bad_setting_in_one_line(tmp_path, capsys):
    assert main(["train-encoder", "--images", str(tmp_path), "--out", str(tmp_path / "r"), "--field", "100"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "vexscreen train-encoder: error: --field 100 is smaller than --crop 128: views are " \
                          "cut from the field"


def test_geometry_is_the_config_s_and_round_trips():
    cfg = TrainConfig(full_size=240, field=192, crop=128, scale=0.5)
    g = cfg.geometry
    assert g == Geometry(full_size=240, field=192, crop=128, scale=0.5)
    assert Geometry.from_dict(g.to_dict()) == g and set(g.to_dict()) == {"full_size", "field", "crop", "scale"}
    assert (g.side, g.oversize) == (192, "crop")
    assert (Geometry().side, Geometry().oversize) == (272, "pad")   # METHOD.md Step 1: 272, padded
    assert Geometry(scale=1).scale == 1.0 and isinstance(Geometry(scale=1).scale, float)
    with pytest.raises(InputError, match="unknown geometry key"):
        Geometry.from_dict({**g.to_dict(), "rotation": 180})
    with pytest.raises(InputError, match="--field 64 is smaller than --crop 128"):
        Geometry(field=64)
    with pytest.raises(InputError, match="--crop must be a whole number"):
        Geometry(crop="128")


def test_config_compares_as_a_plain_dict():
    """Runs are compared by ``asdict`` (pipeline.check_same_training): plain values, field names kept."""
    d = asdict(TrainConfig(lr=1e-3, field=192))
    assert d["lr"] == 1e-3 and d["field"] == 192 and d["weights"] is None
    assert TrainConfig(**d) == TrainConfig(lr=1e-3, field=192)
