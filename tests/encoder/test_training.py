"""train-encoder: a 2-epoch run writes every artefact; --resume after an interruption; the probe."""
import json
import math

import lightning as L
import pandas as pd
import pytest
import torch

from vexscreen.cli import main
from vexscreen.exceptions import InputError
from vexscreen.encoder.config import TrainConfig
from vexscreen.encoder.encoder_file import load_encoder
from vexscreen.encoder.training import train_encoder


def test_two_epochs_write_every_artefact(flat_dir, labeled_dir, tmp_path, small_cfg):
    run = tmp_path / "run"
    out = train_encoder(flat_dir, run, small_cfg, probe=labeled_dir, progress=False, keep_checkpoints=True)
    assert out["epochs_run"] == 2 and out["checkpoints_kept"]
    for name in ("encoder.pt", "metrics.csv", "config.json", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    m = pd.read_csv(run / "metrics.csv")
    assert list(m.columns) == ["epoch", "loss", "lr", "probe_accuracy", "best_loss", "seconds", "images_per_second"]
    assert list(m["epoch"]) == [0, 1]
    assert m["loss"].notna().all() and (m["loss"] > 0).all()
    assert m["probe_accuracy"].between(0, 1).all()
    assert m["best_loss"].iloc[-1] == m["loss"].min()
    assert list(m["lr"]) == [1e-3, 1e-3]  # the exact float, not float32's rounding
    assert (m["seconds"] > 0).all() and (m["images_per_second"] > 0).all()
    payload = torch.load(run / "encoder.pt", weights_only=True)  # plain tensors + plain config
    assert payload["config"]["backbone"] == "resnet18" and payload["config"]["dim"] == 512
    assert payload["config"]["best_epoch"] == int(m["loss"].idxmin())
    assert payload["config"]["probe_accuracy"] == m["probe_accuracy"].iloc[int(m["loss"].idxmin())]
    enc, cfg = load_encoder(run / "encoder.pt")
    assert cfg["geometry"] == {"full_size": 48, "field": None, "crop": 32, "scale": 1.0} and not enc.training
    assert cfg["training"]["batch_size"] == 4 and cfg["training"]["images"] == 8
    assert json.loads((run / "config.json").read_text())["train"]["batch_size"] == 4
    # the Lightning checkpoint: plain hyper-parameters (no weights path), read by the safe loader
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["cfg"]["batch_size"] == 4 and ckpt["hyper_parameters"]["cfg"]["weights"] is None


def test_same_seed_same_losses(flat_dir, tmp_path, small_cfg):
    small_cfg.epochs = 1
    small_cfg.method = "simclr"  # the alternative loss runs through the same loop
    a = train_encoder(flat_dir, tmp_path / "a", small_cfg, progress=False)
    b = train_encoder(flat_dir, tmp_path / "b", small_cfg, progress=False)
    assert a["best_loss"] == b["best_loss"] and math.isfinite(a["best_loss"])
    assert load_encoder(tmp_path / "a" / "encoder.pt")[1]["training"]["method"] == "simclr"


def test_field_and_local_crop_train_and_are_recorded(flat_dir, tmp_path, small_cfg):
    """Views from the centred field, the second one a smaller patch: trains, and encode
    will see the field."""
    small_cfg.epochs, small_cfg.field, small_cfg.local_crop = 1, 40, 32
    small_cfg.crop = 36
    out = train_encoder(flat_dir, tmp_path / "r", small_cfg, progress=False)
    assert math.isfinite(out["best_loss"])
    cfg = load_encoder(tmp_path / "r" / "encoder.pt")[1]
    assert cfg["geometry"]["field"] == 40 and cfg["training"]["local_crop"] == 32
    small_cfg.local_crop = 48
    with pytest.raises(InputError, match="--local-crop 48"):
        train_encoder(flat_dir, tmp_path / "bad", small_cfg, progress=False)
    # multi-crop: two whole views and two patches per cell; not with a queue
    small_cfg.local_crop, small_cfg.n_local = 32, 2
    out = train_encoder(flat_dir, tmp_path / "multi", small_cfg, progress=False)
    assert math.isfinite(out["best_loss"])
    assert load_encoder(tmp_path / "multi" / "encoder.pt")[1]["training"]["n_local"] == 2
    small_cfg.queue_size = 16
    with pytest.raises(InputError, match="--queue-size 0 only"):
        train_encoder(flat_dir, tmp_path / "bad2", small_cfg, progress=False)


def test_probe_fallback_is_said_once_and_returned(flat_dir, tmp_path, small_cfg, caplog):
    """A probe folder without samples (GROUP/img): cells are split instead, and the run says so."""
    from .conftest import write_images

    et = tmp_path / "et"
    write_images([et / g / f"{g}{i}.png" for g in ("band", "segmented") for i in range(6)])
    small_cfg.epochs = 2
    with caplog.at_level("WARNING", logger="vexscreen.encoder.callbacks"):
        out = train_encoder(flat_dir, tmp_path / "r", small_cfg, probe=et, progress=False)
    assert out["probe_note"].startswith("no SAMPLE column: cells split")
    assert [r.getMessage() for r in caplog.records] == [f"probe: {out['probe_note']}"]  # once, not per epoch
    assert pd.read_csv(tmp_path / "r" / "metrics.csv")["probe_accuracy"].between(0, 1).all()
    with pytest.raises(InputError, match="the probe needs images in groups"):
        train_encoder(flat_dir, tmp_path / "r2", small_cfg, probe=flat_dir, progress=False)


class _Interrupt(L.Callback):
    """Kill the run in the middle of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == 0:
            raise RuntimeError("simulated crash")


def test_resume_after_interruption(flat_dir, tmp_path, small_cfg):
    small_cfg.epochs = 3
    small_cfg.queue_size = 8  # the queue must come back too
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_encoder(flat_dir, run, small_cfg, progress=False, callbacks=[_Interrupt(1)])
    before = pd.read_csv(run / "metrics.csv")
    assert list(before["epoch"]) == [0]  # epoch 1 lost, epoch 0 kept
    best_before = torch.load(run / "encoder.pt", weights_only=True)["config"]["best_loss"]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)  # safe loader reads it
    assert ckpt["epoch"] == 0 and "criterion.queue" in ckpt["state_dict"]
    out = train_encoder(flat_dir, run, TrainConfig(epochs=3), resume=True, progress=False)
    after = pd.read_csv(run / "metrics.csv")
    assert list(after["epoch"]) == [0, 1, 2]
    pd.testing.assert_frame_equal(after.iloc[:1], before)  # the row written before the crash, kept as is
    assert out["epochs_run"] == 3
    # the best loss came back with the checkpoint: encoder.pt is rewritten only on a real improvement
    assert list(after["best_loss"]) == list(after["loss"].cummin()) and after["best_loss"].iloc[0] == best_before
    assert out["best_loss"] == after["loss"].min()
    # resumed with the run's own settings (config.json), not the defaults passed in
    assert load_encoder(run / "encoder.pt")[1]["training"]["batch_size"] == 4
    # kept while the run could resume; gone now that it has ended
    assert not out["checkpoints_kept"] and not (run / "checkpoints").exists()


@pytest.mark.parametrize("how", ["last epoch", "early stopping"])
def test_a_run_that_ends_deletes_its_checkpoints(flat_dir, tmp_path, small_cfg, how):
    if how == "early stopping":
        small_cfg.epochs, small_cfg.patience, small_cfg.min_delta = 5, 1, 1e6  # no epoch improves by 1e6
    run = tmp_path / "run"
    out = train_encoder(flat_dir, run, small_cfg, progress=False)
    assert out["stopped_early"] == (how == "early stopping") and out["epochs_run"] < 5
    assert not out["checkpoints_kept"]
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "encoder.pt", "metrics.csv"]
    with pytest.raises(InputError, match="keep-checkpoints"):  # the message says how to keep them
        train_encoder(flat_dir, run, small_cfg, resume=True, progress=False)


def test_cli_keeps_checkpoints_on_request(flat_dir, tmp_path, capsys):
    args = ["train-encoder", "--images", str(flat_dir), "--batch-size", "4", "--epochs", "1", "--crop", "32",
            "--full-size", "48", "--workers", "0", "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "kept"), "--keep-checkpoints"]) == 0
    assert (tmp_path / "kept" / "checkpoints" / "last.ckpt").is_file()
    assert f"checkpoints kept: {tmp_path / 'kept'}/checkpoints" in capsys.readouterr().out
    assert main(args + ["--out", str(tmp_path / "gone")]) == 0
    assert not (tmp_path / "gone" / "checkpoints").exists()
    assert "checkpoints kept" not in capsys.readouterr().out


def test_resume_without_checkpoint_is_an_input_error(flat_dir, tmp_path):
    with pytest.raises(InputError, match="nothing to resume"):
        train_encoder(flat_dir, tmp_path / "none", resume=True, progress=False)


def test_cli_errors_name_the_folder(tmp_path, capsys):
    assert main(["train-encoder", "--images", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err


def test_untrained_baseline_is_the_seeded_initialisation(tmp_path, small_cfg):
    from vexscreen.encoder.training import save_untrained_encoder

    a = save_untrained_encoder(tmp_path / "a.pt", small_cfg)
    b = save_untrained_encoder(tmp_path / "b.pt", small_cfg)
    small_cfg.seed = 44
    c = save_untrained_encoder(tmp_path / "c.pt", small_cfg)
    sa, sb, sc = (torch.load(p, weights_only=True)["state_dict"] for p in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    enc, cfg = load_encoder(a)
    assert cfg["training"] is None and cfg["backbone"] == "resnet18"


def test_untrained_baseline_starts_from_the_weights_file(tmp_path, small_cfg):
    """With --weights, the baseline is those weights untouched (e.g. ImageNet, never trained on cells)."""
    import torchvision

    from vexscreen.encoder.training import save_untrained_encoder

    torch.manual_seed(7)
    full = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(full, tmp_path / "resnet18_local.pth")
    small_cfg.weights = str(tmp_path / "resnet18_local.pth")
    path = save_untrained_encoder(tmp_path / "w.pt", small_cfg)
    state = torch.load(path, weights_only=True)["state_dict"]
    assert torch.equal(state["features.0.weight"], full["conv1.weight"])
    assert torch.equal(state["features.7.1.bn2.running_var"], full["layer4.1.bn2.running_var"])
    assert load_encoder(path)[1]["training"] is None


def test_dense_term_trains_and_is_recorded(flat_dir, tmp_path, small_cfg):
    """--dense W: the DenseCL-style term on the 2 x 2 feature maps of 64 px views trains, is
    recorded, and is refused with local patches or outside [0, 1]."""
    small_cfg.epochs, small_cfg.crop, small_cfg.dense = 1, 64, 0.5
    out = train_encoder(flat_dir, tmp_path / "d", small_cfg, progress=False)
    assert math.isfinite(out["best_loss"])
    assert load_encoder(tmp_path / "d" / "encoder.pt")[1]["training"]["dense"] == 0.5
    plain = train_encoder(flat_dir, tmp_path / "p", TrainConfig(**{**small_cfg.__dict__, "dense": 0.0}),
                          progress=False)
    assert plain["best_loss"] != out["best_loss"]  # the term is really in the loss
    small_cfg.local_crop = 32
    with pytest.raises(InputError, match="not with --local-crop"):
        train_encoder(flat_dir, tmp_path / "bad", small_cfg, progress=False)
    small_cfg.local_crop, small_cfg.dense = None, 1.5
    with pytest.raises(InputError, match="--dense must be between 0 and 1, got 1.5"):
        train_encoder(flat_dir, tmp_path / "bad2", small_cfg, progress=False)


def test_best_loss_of_an_older_checkpoint_is_kept(tmp_path):
    """A run checkpointed before the recording was split (state under "RunRecorder") resumes
    comparing with its best loss, so encoder.pt is not overwritten by a worse epoch."""
    from vexscreen.encoder.callbacks import BestEncoder
    from vexscreen.encoder.config import Geometry

    cb = BestEncoder(tmp_path / "encoder.pt", Geometry(), {})
    cb.on_load_checkpoint(None, None, {"callbacks": {"RunRecorder": {"rows": [], "best": 1.5, "best_epoch": 2}}})
    assert (cb.best, cb.best_epoch) == (1.5, 2)
    cb = BestEncoder(tmp_path / "encoder.pt", Geometry(), {})
    cb.on_load_checkpoint(None, None, {"callbacks": {"RunRecorder": {"best": 1.5, "best_epoch": 2},
                                                     cb.state_key: {"best": 0.5, "best_epoch": 4}}})
    assert cb.best == float("inf")  # its own state wins (loaded by Lightning with load_state_dict)
