"""ImageNet and DinoBloom weights end to end through the CLI (issue 13): stand-in files -> train-encoder /
export-encoder -> encoder.pt -> encode, and the errors a user meets. No test touches the network (the guard
of test_pretrained.py is autouse here too); TORCH_HOME is a fresh temporary folder."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from vexscreen.cli import main
from vexscreen.demo import demo_train_config
from vexscreen.encoder import dinobloom as D
from vexscreen.encoder import pretrained as P
from vexscreen.encoder.dinobloom import DinoBloomEncoder
from vexscreen.encoder.encoder_file import load_encoder, read_encoder_file

from .conftest import cell_image, write_images
from .test_dinobloom import dinobloom_teacher, random_vit_s
from .test_pretrained import no_network, standin, use_name  # noqa: F401  (no_network: autouse guard)

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture
def imagenet_resnet18(tmp_path, monkeypatch):
    """A random resnet18 state dict in TORCH_HOME's cache under a name whose hash prefix is its own."""
    state, path, digest = standin(tmp_path)
    use_name(monkeypatch, "resnet18", f"resnet18-{digest[:8]}.pth")
    target = P.weights_path("resnet18")
    target.parent.mkdir(parents=True)
    path.rename(target)
    return state, target


@pytest.fixture(scope="module")
def dinobloom_file(tmp_path_factory):
    """A DinoBloom-S checkpoint in DinoBloom's layout, and the model it was made from."""
    source = random_vit_s()
    path = tmp_path_factory.mktemp("dinobloom") / "DinoBloom-S.pth"
    torch.save({"teacher": dinobloom_teacher(source)}, path)
    return path


@pytest.fixture
def mixed_dir(tmp_path):
    """Three small images and one larger than DinoBloom's 224 px input."""
    root = tmp_path / "mixed"
    write_images([root / f"small{i}.png" for i in range(3)])
    cell_image(np.random.default_rng(5), 250, 236).save(root / "z_large.png")
    return root


def padded(path, side: int) -> torch.Tensor:
    """1 x 3 x side x side in [0, 1]: the image centre-cropped to ``side`` if larger, zero-padded, centred."""
    img = TF.pil_to_tensor(Image.open(path).convert("RGB"))
    h, w = img.shape[-2:]
    if max(h, w) > side:
        img = TF.center_crop(img, [min(h, side), min(w, side)])
        h, w = img.shape[-2:]
    ph, pw = side - h, side - w
    return F.pad(img, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)).float().div(255).unsqueeze(0)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


# ---------------------------------------------------------------- ImageNet by name
def test_imagenet_encoder_encodes_as_torchvision_s_model(imagenet_resnet18, flat_dir, tmp_path, no_network):
    state, target = imagenet_resnet18
    enc_pt, out = tmp_path / "imagenet.pt", tmp_path / "enc"
    assert main(["export-encoder", "--backbone", "resnet18", "--weights", "imagenet", "--out", str(enc_pt)]) == 0
    config = read_encoder_file(enc_pt).config
    assert config["weights"] == {"source": "imagenet", "file": target.name, "variant": "ResNet18_Weights.IMAGENET1K_V1",
                                 "url": P.PRETRAINED_SPECS["resnet18"].url}
    assert config["normalisation"]["mean"] == [0.485, 0.456, 0.406] and config["training"] is None
    assert main(["encode", "--encoder", str(enc_pt), "--images", str(flat_dir), "--out", str(out),
                 "--workers", "0", "--no-progress"]) == 0
    X = np.load(out / "encodings.npy")
    model = tvm.resnet18(weights=None)
    model.load_state_dict(state)
    model.fc = torch.nn.Identity()
    paths = sorted(flat_dir.iterdir())
    with torch.no_grad():
        expected = torch.cat([model.eval()((padded(p, 272) - IMAGENET_MEAN) / IMAGENET_STD) for p in paths])
    assert X.shape == (len(paths), 512)
    np.testing.assert_allclose(X, expected.numpy(), rtol=1e-4, atol=1e-5)
    assert no_network.connects == [] and no_network.downloads == []      # the cached file needed no network


def test_train_encoder_starts_from_imagenet_and_records_it(imagenet_resnet18, flat_dir, tmp_path):
    state, target = imagenet_resnet18
    run = tmp_path / "run"
    assert main(["train-encoder", "--images", str(flat_dir), "--out", str(run), "--weights", "imagenet",
                 "--batch-size", "4", "--epochs", "1", "--crop", "32", "--full-size", "48", "--workers", "0",
                 "--lr", "1e-9", "--lr-floor", "0", "--no-progress"]) == 0
    encoder, config = load_encoder(run / "encoder.pt")
    assert config["weights"]["source"] == "imagenet" and config["weights"]["file"] == target.name
    assert config["training"]["weights"] == "imagenet"
    conv1 = encoder.features[0].weight
    assert (conv1 - state["conv1.weight"]).abs().max() < 1e-6            # two Adam steps of 1e-9 from ImageNet
    torch.manual_seed(43)
    assert (conv1 - tvm.resnet18(weights=None).conv1.weight).abs().max() > 1e-2   # not the random init


@pytest.mark.parametrize("command", [
    ["export-encoder", "--backbone", "resnet18", "--out", "{tmp}/e.pt"],
    ["train-encoder", "--images", "{images}", "--out", "{tmp}/run", "--crop", "32", "--workers", "0",
     "--no-progress"],
    ["demo", "--backbone", "resnet50", "--out", "{tmp}/demo"],
])
def test_offline_without_the_file_fails_at_once_naming_file_and_folder(command, flat_dir, tmp_path, capsys,
                                                                       no_network):
    argv = [a.format(tmp=tmp_path, images=flat_dir) for a in command] + ["--weights", "imagenet"]
    assert main(argv) == 2
    err = one_line_error(capsys)
    backbone = "resnet50" if "resnet50" in argv else "resnet18"
    assert f"put the file {P.PRETRAINED_SPECS[backbone].file}" in err and f"in the folder {P.weights_dir()}" in err
    assert str(P.weights_dir()).startswith(str(tmp_path))                 # the temporary, empty TORCH_HOME
    assert len(no_network.connects) == 1 and no_network.connects[0][1] <= 5   # one bounded attempt, no hang
    assert no_network.downloads == []
    assert not (tmp_path / "demo").exists()                                # the demo failed before any work


def test_demo_config_takes_imagenet_and_dinobloom():
    assert demo_train_config(backbone="resnet50", weights="imagenet").weights == "imagenet"
    vit = demo_train_config(backbone="dinobloom-s")
    assert (vit.crop, vit.field, vit.full_size, vit.pooling) == (126, 224, 224, "cls")


# ---------------------------------------------------------------- DinoBloom
def test_dinobloom_file_encodes_as_the_model_it_loads(dinobloom_file, mixed_dir, tmp_path):
    enc_pt, out = tmp_path / "dinobloom.pt", tmp_path / "enc"
    assert main(["export-encoder", "--backbone", "dinobloom-s", "--weights", str(dinobloom_file),
                 "--out", str(enc_pt)]) == 0
    file = read_encoder_file(enc_pt)
    assert (file.config["backbone"], file.config["pooling"], file.config["dim"]) == ("dinobloom-s", "cls", 384)
    assert file.config["weights"] == {"source": "dinobloom", "file": "DinoBloom-S.pth"}
    assert file.geometry.to_dict() == {"full_size": 224, "field": None, "crop": 126, "scale": 1.0, "input_size": 224}
    assert main(["encode", "--encoder", str(enc_pt), "--images", str(mixed_dir), "--out", str(out),
                 "--batch-size", "3", "--workers", "0", "--no-progress"]) == 0
    summary = json.loads((out / "encode.json").read_text())
    assert (summary["input_size"], summary["oversize"], summary["oversize_images"]) == (224, "crop", 1)
    direct = D.build_dinobloom("dinobloom-s", dinobloom_file).eval()
    paths = sorted(mixed_dir.iterdir())
    with torch.no_grad():
        expected = torch.cat([direct(padded(p, 224)) for p in paths])
    X = np.load(out / "encodings.npy")
    assert X.shape == (4, 384)
    np.testing.assert_allclose(X, expected.numpy(), rtol=0, atol=1e-5)
    assert np.abs(X[0] - X[3]).max() > 1e-3                             # the rows are not all alike
    encoder, _ = load_encoder(enc_pt)
    assert isinstance(encoder, DinoBloomEncoder) and not encoder.dynamic and encoder.input_size == 224


def test_wrong_checkpoint_is_one_clear_line(dinobloom_file, tmp_path, capsys):
    assert main(["export-encoder", "--backbone", "dinobloom-b", "--weights", str(dinobloom_file),
                 "--out", str(tmp_path / "e.pt")]) == 2
    assert "embedding dim 384 in checkpoint, dinobloom-b expects 768" in one_line_error(capsys)
    plain = tmp_path / "plain.pth"
    torch.save(random_vit_s().state_dict(), plain)
    assert main(["export-encoder", "--backbone", "dinobloom-s", "--weights", str(plain),
                 "--out", str(tmp_path / "e.pt")]) == 2
    assert "no 'teacher' dict" in one_line_error(capsys)
    assert not (tmp_path / "e.pt").exists()


def test_dinobloom_encoder_refuses_other_input_sizes(dinobloom_file, mixed_dir, tmp_path, capsys):
    enc_pt = tmp_path / "dinobloom.pt"
    assert main(["export-encoder", "--backbone", "dinobloom-s", "--weights", str(dinobloom_file),
                 "--out", str(enc_pt)]) == 0
    capsys.readouterr()
    base = ["encode", "--encoder", str(enc_pt), "--images", str(mixed_dir), "--out", str(tmp_path / "o"),
            "--workers", "0", "--no-progress"]
    assert main(base + ["--oversize", "pad"]) == 2
    assert "--oversize pad: this encoder takes exactly 224 x 224 images" in one_line_error(capsys)
    assert main(base + ["--full-size", "272"]) == 2
    assert "--full-size 272: this encoder takes exactly 224 x 224 images" in one_line_error(capsys)


def test_dinobloom_trains_from_its_checkpoint_with_the_cls_token(dinobloom_file, flat_dir, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train-encoder", "--images", str(flat_dir), "--out", str(run), "--backbone", "dinobloom-s",
            "--weights", str(dinobloom_file), "--batch-size", "4", "--epochs", "1", "--workers", "0",
            "--max-images", "4", "--no-progress"]
    assert main(base + ["--crop", "30"]) == 2
    assert "--crop 30 is not a multiple of 14, dinobloom-s's patch size" in one_line_error(capsys)
    assert main(base + ["--crop", "28"]) == 0
    encoder, config = load_encoder(run / "encoder.pt")
    assert (config["backbone"], config["pooling"], config["geometry"]["input_size"]) == ("dinobloom-s", "cls", 224)
    assert config["weights"] == {"source": "dinobloom", "file": "DinoBloom-S.pth"}
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cls = encoder.vit.forward_features((x - IMAGENET_MEAN) / IMAGENET_STD)[:, 0]
        torch.testing.assert_close(encoder(x), cls, rtol=0, atol=1e-6)   # the embedding is the CLS token


def test_training_module_embeds_crops_with_the_cls_token(dinobloom_file):
    """ContrastiveModule's embedding of a 28 px crop is the CLS token (not a pooling of the patch map)."""
    from vexscreen.encoder.config import TrainConfig
    from vexscreen.encoder.module import ContrastiveModule

    module = ContrastiveModule(TrainConfig(backbone="dinobloom-s", weights=str(dinobloom_file), crop=28))
    encoder = module.encoder.eval()
    x = torch.rand(2, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        emb, fmap = encoder.forward_with_map(x)
        tokens = encoder.vit.forward_features((x - IMAGENET_MEAN) / IMAGENET_STD)
    torch.testing.assert_close(emb, tokens[:, 0], rtol=0, atol=0)
    assert fmap.shape == (2, 384, 2, 2) and not torch.allclose(emb, fmap.mean((2, 3)), atol=1e-3)
