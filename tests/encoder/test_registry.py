"""The one backbone registry (issue 13 item 3): names, sizes, preprocessing and weights sources agree with
torchvision's weights API and DinoBloom's release; the settings each backbone allows; `vexscreen backbones`."""
import subprocess
import sys

import pytest
import timm

from vexscreen.cli import main
from vexscreen.encoder import names
from vexscreen.encoder.config import Geometry, TrainConfig
from vexscreen.encoder.dinobloom import DINOBLOOM_SPECS
from vexscreen.encoder.pretrained import PRETRAINED_SPECS
from vexscreen.encoder.registry import REGISTRY, get_backbone_info, list_backbones
from vexscreen.exceptions import InputError

TORCHVISION = ["resnet18", "vgg16", "resnet50", "inception_v3", "efficientnet_b4"]
DINOBLOOM = ["dinobloom-s", "dinobloom-b", "dinobloom-l", "dinobloom-g"]


def test_names_come_from_the_registry():
    assert list(REGISTRY) == TORCHVISION + DINOBLOOM == list(names.BACKBONE_NAMES)
    assert list_backbones("torchvision") == TORCHVISION == list(PRETRAINED_SPECS)
    assert list_backbones("dinobloom") == DINOBLOOM == list(DINOBLOOM_SPECS)
    assert names.MIN_INPUT_SIDE == {n: b.min_size for n, b in REGISTRY.items()}
    assert [n for n, b in REGISTRY.items() if b.in_study] == ["vgg16", "resnet50", "inception_v3", "efficientnet_b4"]
    with pytest.raises(InputError, match="unknown backbone 'alexnet'; choose one of resnet18"):
        get_backbone_info("alexnet")


def test_names_and_config_import_without_torch():
    """`vexscreen --help` lists the backbones and builds train-encoder's options without loading torch."""
    code = ("import sys, vexscreen.encoder.names, vexscreen.encoder.config, vexscreen.encoder.registry; "
            "print('torch' in sys.modules, 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_torchvision_entries_agree_with_the_weights_api():
    for name in TORCHVISION:
        info, spec = REGISTRY[name], PRETRAINED_SPECS[name]
        assert (info.dim, info.min_size, info.native_size) == (spec.dim, spec.min_size, spec.native_size)
        assert (info.mean, info.std) == (spec.mean, spec.std)   # what --weights imagenet expects, from the API
        assert info.takes_imagenet and info.poolings == ("avg", "max") and info.input_size is None
    assert REGISTRY["inception_v3"].mean == REGISTRY["inception_v3"].std == (0.5, 0.5, 0.5)
    assert REGISTRY["resnet50"].mean == (0.485, 0.456, 0.406) and REGISTRY["resnet50"].preprocessing == "ImageNet"
    assert (REGISTRY["inception_v3"].native_size, REGISTRY["efficientnet_b4"].native_size) == (299, 380)


def test_dinobloom_entries_agree_with_the_release():
    for name in DINOBLOOM:
        info, spec = REGISTRY[name], DINOBLOOM_SPECS[name]
        assert (info.arch, info.dim, info.input_size, info.mean, info.std) == \
            (spec.timm_arch, spec.dim, spec.input_size, spec.mean, spec.std)
        assert timm.is_model(info.arch) and not info.takes_imagenet
        assert (info.native_size, info.input_size, info.size_multiple, info.poolings) == (224, 224, 14, ("cls",))
        assert (info.default_crop, info.default_full_size) == (126, 224)
    assert [REGISTRY[n].dim for n in DINOBLOOM] == [384, 768, 1024, 1536]


def test_config_takes_each_backbone_s_defaults():
    cnn, vit = TrainConfig(), TrainConfig(backbone="dinobloom-s")
    assert (cnn.pooling, cnn.crop, cnn.full_size) == ("avg", 128, 272)          # METHOD.md Step 1
    assert cnn.geometry == Geometry(full_size=272, crop=128)
    assert (vit.pooling, vit.crop, vit.full_size) == ("cls", 126, 224)
    assert vit.geometry == Geometry(full_size=224, crop=126, input_size=224)
    assert vit.geometry.for_encoding() == (224, "crop")
    assert TrainConfig(weights="imagenet", backbone="resnet50").weights == "imagenet"


@pytest.mark.parametrize("settings, message", [
    ({"backbone": "dinobloom-s", "crop": 128}, "--crop 128 is not a multiple of 14, dinobloom-s's patch size"),
    ({"backbone": "dinobloom-s", "local_crop": 50}, "--local-crop 50 is not a multiple of 14"),
    ({"backbone": "dinobloom-b", "full_size": 272}, "dinobloom-b takes exactly 224 x 224 images: --full-size"),
    ({"backbone": "dinobloom-s", "field": 196}, "must be 224, got 224 and 196"),
    ({"backbone": "dinobloom-s", "pooling": "avg"}, "--pooling 'avg' does not apply to dinobloom-s: it takes cls"),
    ({"pooling": "cls"}, "--pooling 'cls' does not apply to resnet18: it takes avg or max"),
    ({"backbone": "dinobloom-l", "weights": "imagenet"}, "dinobloom-l has no ImageNet weights"),
])
def test_what_a_backbone_cannot_take_is_named(settings, message):
    with pytest.raises(InputError, match=message):
        TrainConfig(**settings)


def test_fixed_input_geometry():
    g = Geometry(full_size=224, crop=112, input_size=224)
    assert Geometry.from_dict(g.to_dict()) == g and g.to_dict()["input_size"] == 224
    assert "input_size" not in Geometry().to_dict()           # files of other backbones keep their keys
    assert g.for_encoding(224, "resize") == (224, "resize")
    with pytest.raises(InputError, match="--full-size 300: this encoder takes exactly 224 x 224"):
        g.for_encoding(300)
    with pytest.raises(InputError, match="--oversize pad: this encoder takes exactly 224 x 224"):
        g.for_encoding(oversize="pad")
    with pytest.raises(InputError, match="the backbone takes exactly 224 x 224"):
        Geometry(full_size=272, input_size=224)
    assert Geometry.for_backbone("dinobloom-g") == Geometry(full_size=224, crop=126, input_size=224)
    assert Geometry.for_backbone("resnet50", field=192) == Geometry(field=192)


def test_an_encoder_is_saved_with_its_backbone_s_geometry(tmp_path):
    import torch

    from vexscreen.encoder.backbones import build_backbone
    from vexscreen.encoder.encoder_file import read_encoder_file, save_encoder

    torch.manual_seed(0)
    encoder = build_backbone("dinobloom-s")
    with pytest.raises(InputError, match="geometry input size None for dinobloom-s, which takes exactly 224"):
        save_encoder(tmp_path / "e.pt", encoder, Geometry())
    save_encoder(tmp_path / "e.pt", encoder, Geometry.for_backbone("dinobloom-s"))
    assert read_encoder_file(tmp_path / "e.pt").geometry.input_size == 224


def test_backbones_command_lists_the_registry(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()
    assert table[0].split()[:3] == ["backbone", "dim", "native"] and len(table) == 2 + len(REGISTRY)
    for name, line in zip(REGISTRY, table[2:]):
        assert line.startswith(name) and f" {REGISTRY[name].dim} " in line
    assert "resnet18-f37072fd.pth" in out and "resnet50-0676ba61.pth" in out and "DinoBloom-G.pth" in out
    assert "inception_v3 *" in out and "0.5" in table[2 + TORCHVISION.index("inception_v3")]
    assert "hub/checkpoints" in out
