"""encoder.pt: what is written is read back exactly; damaged, old, foreign or tampered files fail safely,
in one line naming the file, never running code."""
import io
import os

import pytest
import torch

from vexscreen.cli import main
from vexscreen.encoder.backbones import build_backbone
from vexscreen.encoder.config import Geometry
from vexscreen.encoder.encoder_file import (FORMAT, VERSION, content_sha256, load_encoder, read_encoder_file,
                                            save_encoder)
from vexscreen.exceptions import InputError

MARKER = "/tmp/vexscreen_pwned_marker"


@pytest.fixture
def encoder_pt(tmp_path):
    torch.manual_seed(43)
    path = tmp_path / "encoder.pt"
    save_encoder(path, build_backbone("resnet18"), Geometry(full_size=48, field=40, crop=32, scale=0.5),
                 {"training": {"lr": 1e-3}, "best_epoch": 3})
    return path


def test_round_trip(encoder_pt):
    torch.manual_seed(43)
    original = build_backbone("resnet18").state_dict()
    f = read_encoder_file(encoder_pt)
    assert f.geometry == Geometry(full_size=48, field=40, crop=32, scale=0.5)
    assert (f.config["backbone"], f.config["pooling"], f.config["dim"]) == ("resnet18", "avg", 512)
    assert f.config["training"] == {"lr": 1e-3} and f.config["best_epoch"] == 3
    enc, config = load_encoder(encoder_pt)
    assert config == f.config and not enc.training and enc.backbone == "resnet18"
    assert all(torch.equal(enc.state_dict()[k], original[k]) for k in original)
    payload = torch.load(encoder_pt, weights_only=True)  # plain values only: the safe loader reads it
    assert (payload["format"], payload["version"]) == (FORMAT, VERSION) == ("vexscreen-encoder", 2)
    assert payload["sha256"] == content_sha256(payload["config"], payload["state_dict"])
    assert not list(encoder_pt.parent.glob(".*"))  # written atomically: no temporary file left


def test_checksum_covers_config_and_every_tensor(encoder_pt):
    payload = torch.load(encoder_pt, weights_only=True)
    config, state = payload["config"], payload["state_dict"]
    base = content_sha256(config, state)
    assert content_sha256({**config, "best_epoch": 4}, state) != base
    one_bit = dict(state)
    w = state["features.0.weight"].clone()
    w.view(-1).view(torch.int32)[0] ^= 1  # the lowest bit of one float
    one_bit["features.0.weight"] = w
    assert content_sha256(config, one_bit) != base
    renamed = {("x" + k if k == "features.1.bias" else k): v for k, v in state.items()}
    assert content_sha256(config, renamed) != base


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def _tamper(kind: str, good, bad) -> str:
    """Write a bad encoder file of ``kind``; returns the message expected."""
    if kind == "garbage":
        bad.write_bytes(b"\x00not a checkpoint" * 10)
        return "not a vexscreen encoder file, or damaged (torch cannot read it)"
    if kind == "truncated":
        bad.write_bytes(good.read_bytes()[:5000])
        return "not a vexscreen encoder file, or damaged (torch cannot read it)"
    if kind == "pickle_code":
        buf = io.BytesIO()
        torch.save({"format": FORMAT, "evil": _Evil()}, buf)
        bad.write_bytes(buf.getvalue())
        return "not a vexscreen encoder file, or damaged (torch cannot read it)"
    if kind == "wrong_dict":
        torch.save({"weights": torch.zeros(3)}, bad)
        return "not a vexscreen encoder file (no format='vexscreen-encoder' field)"
    payload = torch.load(good, weights_only=True)
    key = "features.0.weight"
    expected = {"old_version": f"encoder file version 1; this vexscreen reads version {VERSION}",
                "flipped": "damaged: checksum mismatch",
                "wrong_shapes": "weights do not fit backbone resnet18",
                "nan": f"tensor {key} holds NaN/inf values",
                "bad_geometry": "bad geometry (--field 16 is smaller than --crop 32"}[kind]
    if kind == "old_version":
        payload["version"] = 1
    elif kind == "flipped":  # damaged after writing: one weight changed, checksum not
        payload["state_dict"][key] = payload["state_dict"][key] + 1e-3
    else:  # well-formed (checksum recomputed) but wrong content
        if kind == "wrong_shapes":
            payload["state_dict"][key] = torch.zeros(2, 2)
        elif kind == "nan":
            payload["state_dict"][key] = payload["state_dict"][key] * float("nan")
        else:
            payload["config"]["geometry"]["field"] = 16
        payload["sha256"] = content_sha256(payload["config"], payload["state_dict"])
    torch.save(payload, bad)
    return expected


@pytest.mark.parametrize("kind", ["garbage", "truncated", "pickle_code", "wrong_dict", "old_version", "flipped",
                                  "wrong_shapes", "nan", "bad_geometry"])
def test_bad_encoder_file_fails_safely_in_one_line(kind, encoder_pt, tmp_path, flat_dir, capsys):
    bad = tmp_path / f"{kind}.pt"
    expected = _tamper(kind, encoder_pt, bad)
    with pytest.raises(InputError) as err:
        load_encoder(bad)
    assert str(err.value).startswith(f"{bad}: {expected}")
    assert not os.path.exists(MARKER)
    assert main(["encode", "--encoder", str(bad), "--images", str(flat_dir), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err
    if kind in ("garbage", "truncated", "pickle_code"):  # no internal exception text
        assert err.strip().endswith("(torch cannot read it)")
    assert not (tmp_path / "o" / "encodings.npy").exists()


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="encoder file not found"):
        read_encoder_file(tmp_path / "none.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(InputError, match="encoder file is empty"):
        read_encoder_file(tmp_path / "empty.pt")


def test_normalisation_and_weights_are_recorded_and_checked(encoder_pt, tmp_path):
    """encoder.pt says the mean/std its tensors hold and where the weights started; a config whose
    normalisation is not the tensors' (checksum rewritten to match) is refused."""
    payload = torch.load(encoder_pt, weights_only=True)
    config = payload["config"]
    assert config["normalisation"] == {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                       "input": "RGB in [0, 1]"}
    assert config["weights"] == {"source": "random", "file": None}
    config["normalisation"]["mean"] = [0.5, 0.5, 0.5]
    payload["sha256"] = content_sha256(config, payload["state_dict"])
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(InputError, match="normalisation mean \\[0.5, 0.5, 0.5\\] does not match"):
        read_encoder_file(tmp_path / "other.pt")


def test_inception_records_its_own_normalisation(tmp_path):
    torch.manual_seed(0)
    path = save_encoder(tmp_path / "inception.pt", build_backbone("inception_v3"), Geometry(full_size=96, crop=80))
    encoder, config = load_encoder(path)
    assert config["normalisation"]["mean"] == config["normalisation"]["std"] == [0.5, 0.5, 0.5]
    assert encoder.mean.flatten().tolist() == encoder.std.flatten().tolist() == [0.5, 0.5, 0.5]
