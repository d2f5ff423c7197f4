"""One registry of backbones; --weights loads a local torchvision state dict and nothing else."""
import pytest
import torch
import torchvision

from vexscreen.exceptions import InputError
from vexscreen.encoder.backbones import BACKBONES, build_backbone, get_spec
from vexscreen.encoder.heads import ProjectionHead


@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_builds_with_its_dim(name):
    torch.manual_seed(0)
    enc = build_backbone(name, "max" if name == "resnet18" else "avg").eval()
    side = get_spec(name).min_size
    with torch.inference_mode():
        y = enc(torch.rand(1, 3, side, side))
    assert y.shape == (1, get_spec(name).dim) == (1, enc.dim)


def test_study_head_is_dense_relu_dense_without_batchnorm():
    head = ProjectionHead(512)
    kinds = [type(m).__name__ for m in head.layers]
    assert kinds == ["Linear", "ReLU", "Linear"]
    assert head(torch.rand(4, 512)).shape == (4, 128)


def test_weights_file_is_loaded(tmp_path):
    torch.manual_seed(1)
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    enc = build_backbone("resnet18", weights=path)
    assert torch.equal(enc.features[0].weight, ref.conv1.weight)
    assert torch.equal(enc.features[7][1].bn2.running_var, ref.layer4[1].bn2.running_var)


def test_wrong_weights_are_refused(tmp_path):
    path = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(InputError, match="do not fit"):
        build_backbone("resnet18", weights=path)
    with pytest.raises(InputError, match="not found"):
        build_backbone("resnet18", weights=tmp_path / "missing.pth")
    with pytest.raises(InputError, match="unknown backbone"):
        build_backbone("alexnet")
