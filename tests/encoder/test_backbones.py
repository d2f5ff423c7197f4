"""One registry of backbones, one factory; --weights loads a local file (or ImageNet by name: test_pretrained)."""
import pytest
import torch
import torchvision

from vexscreen.exceptions import InputError
from vexscreen.encoder.backbones import build_backbone, get_spec
from vexscreen.encoder.heads import ProjectionHead
from vexscreen.encoder.registry import list_backbones


@pytest.mark.parametrize("name", list_backbones("torchvision") + ["dinobloom-s"])  # -b/-l/-g: too big to build here
def test_every_backbone_builds_with_its_dim(name):
    torch.manual_seed(0)
    info = get_spec(name)
    enc = build_backbone(name, "max" if name == "resnet18" else None).eval()
    side = info.input_size or info.min_size
    with torch.inference_mode():
        y = enc(torch.rand(1, 3, side, side))
        emb, fmap = enc.forward_with_map(torch.rand(1, 3, side, side))
    assert y.shape == emb.shape == (1, info.dim) == (1, enc.dim)
    assert fmap.shape[:2] == (1, info.dim) and enc.backbone == name
    assert enc.weights == {"source": "random", "file": None}
    assert enc.pooling == ("max" if name == "resnet18" else info.default_pooling)
    torch.testing.assert_close(enc.mean.flatten(), torch.tensor(info.mean), rtol=0, atol=0)
    torch.testing.assert_close(enc.std.flatten(), torch.tensor(info.std), rtol=0, atol=0)


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
