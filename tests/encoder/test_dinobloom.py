"""DinoBloom checkpoints (issue 13 item 2): stand-ins written in DinoBloom's layout from random ViT-S models.

The stand-in is what DinoBloom's training saves (dinov2/train/train.py:
``torch.save({"teacher": teacher.state_dict()})``) for DINOv2's hub ViT-S at
224 px: ``backbone.`` + DINOv2's key names (which timm's ViT shares, plus
``mask_token`` of shape 1 x dim), 257 position embeddings, no registers, and
``dino_head.`` / ``ibot_head.`` keys. Every parameter is drawn at random (layer
scales and norms included), so a mis-mapped key changes the embeddings.
Only ViT-S is built, for speed.
"""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F

from vexscreen.encoder import dinobloom as D
from vexscreen.exceptions import InputError

MEAN = torch.tensor(D.IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(D.IMAGENET_STD).view(1, 3, 1, 1)


def random_vit_s(seed: int = 0, img_size: int = 224):
    torch.manual_seed(seed)
    vit = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=img_size, num_classes=0)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in vit.named_parameters():
            if name.endswith(("gamma", "norm1.weight", "norm2.weight", "norm.weight")):
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))            # scales around 1
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    return vit.eval()


def dinobloom_teacher(vit) -> dict:
    """The teacher state dict DinoBloom saves, around ``vit``'s backbone weights."""
    gen = torch.Generator().manual_seed(1)
    dim = vit.embed_dim
    teacher = {f"backbone.{k}": v.clone() for k, v in vit.state_dict().items()}
    teacher["backbone.mask_token"] = torch.zeros(1, dim)
    for head in ("dino_head", "ibot_head"):
        teacher[f"{head}.mlp.0.weight"] = torch.randn(64, dim, generator=gen)
        teacher[f"{head}.mlp.0.bias"] = torch.zeros(64)
        teacher[f"{head}.last_layer.weight_g"] = torch.ones(128, 1)
        teacher[f"{head}.last_layer.weight_v"] = torch.randn(128, 64, generator=gen)
    return teacher


@pytest.fixture(scope="module")
def source():
    return random_vit_s()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, source):
    path = tmp_path_factory.mktemp("dinobloom") / "DinoBloom-S.pth"
    torch.save({"teacher": dinobloom_teacher(source)}, path)
    return path


@pytest.fixture(scope="module")
def encoder(checkpoint):
    return D.build_dinobloom("dinobloom-s", checkpoint).eval()


def save_teacher(tmp_path, teacher, name="edited.pth"):
    path = tmp_path / name
    torch.save({"teacher": teacher}, path)
    return path


def images(n=2, size=224):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(3))


def test_standin_has_dinobloom_geometry(source):
    teacher = dinobloom_teacher(source)
    assert teacher["backbone.pos_embed"].shape == (1, 257, 384)
    assert teacher["backbone.mask_token"].shape == (1, 384)
    assert teacher["backbone.patch_embed.proj.weight"].shape == (384, 3, 14, 14)


def test_same_embeddings_as_the_model_it_was_made_from(encoder, source):
    x = images()
    with torch.no_grad():
        expected_tokens = source.forward_features((x - MEAN) / STD)
        expected = source((x - MEAN) / STD)
        got = encoder(x)
        emb, fmap = encoder.forward_with_map(x)
    assert got.shape == (2, 384) and encoder.dim == 384
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(got, expected_tokens[:, 0], rtol=0, atol=1e-5)   # the CLS token
    torch.testing.assert_close(emb, got, rtol=0, atol=0)
    assert fmap.shape == (2, 384, 16, 16)
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), expected_tokens[:, 1:], rtol=0, atol=1e-5)
    torch.testing.assert_close(encoder.feature_map(x), fmap, rtol=0, atol=0)
    assert not torch.allclose(got[0], got[1], atol=1e-3)     # images differ, so do embeddings


def test_other_weights_give_other_embeddings(encoder, tmp_path):
    """The comparison above can fail: a different random model does not match the checkpoint's."""
    other = D.build_dinobloom("dinobloom-s", save_teacher(tmp_path, dinobloom_teacher(random_vit_s(seed=7))))
    with torch.no_grad():
        assert (other(images()) - encoder(images())).abs().max() > 1e-2


def test_other_input_size_resamples_position_embeddings(checkpoint):
    encoder = D.build_dinobloom("dinobloom-s", checkpoint, img_size=112)
    assert encoder.vit.pos_embed.shape == (1, 1 + 8 * 8, 384)
    with torch.no_grad():
        assert encoder(images(size=112)).shape == (2, 384)
        assert encoder.feature_map(images(size=112)).shape == (2, 384, 8, 8)
    with pytest.raises(ValueError, match="takes 112 x 112 images, got 224 x 224"):
        encoder(images())
    with pytest.raises(InputError, match="multiple of 14"):
        D.build_dinobloom("dinobloom-s", checkpoint, img_size=272)


def test_wrong_size_is_named(checkpoint):
    with pytest.raises(InputError, match="embedding dim 384 in checkpoint, dinobloom-b expects 768"):
        D.build_dinobloom("dinobloom-b", checkpoint)


def test_no_teacher_dict(tmp_path, source):
    path = tmp_path / "plain.pth"
    torch.save(source.state_dict(), path)
    with pytest.raises(InputError, match="no 'teacher' dict"):
        D.build_dinobloom("dinobloom-s", path)


def test_no_backbone_keys(tmp_path, source):
    teacher = {k.replace("backbone.", "student."): v for k, v in dinobloom_teacher(source).items()}
    with pytest.raises(InputError, match="no 'backbone.' keys"):
        D.build_dinobloom("dinobloom-s", save_teacher(tmp_path, teacher))


def test_missing_block_is_named(tmp_path, source):
    teacher = {k: v for k, v in dinobloom_teacher(source).items() if not k.startswith("backbone.blocks.11.")}
    with pytest.raises(InputError, match="transformer blocks 11 in checkpoint, dinobloom-s expects 12"):
        D.build_dinobloom("dinobloom-s", save_teacher(tmp_path, teacher))


LAYOUT_EDITS = [  # (key, new shape or None to delete it, the error's words)
    ("backbone.patch_embed.proj.weight", (384, 3, 16, 16), "patch size 16x16 in checkpoint, dinobloom-s expects 14x14"),
    ("backbone.pos_embed", (1, 250, 384), "250 position embeddings in checkpoint: not 1 \\+ a square grid"),
    ("backbone.blocks.3.attn.qkv.weight", None, "1 missing key\\(s\\) \\['blocks.3.attn.qkv.weight'\\]"),
    ("backbone.blocks.3.mlp.fc1.weight", (1024, 384), "size mismatch for blocks.3.mlp.fc1.weight"),
    ("backbone.register_tokens", (1, 4, 384), "register tokens in checkpoint"),
]


@pytest.mark.parametrize("key, shape, message", LAYOUT_EDITS)
def test_layout_mismatch_is_named(tmp_path, source, key, shape, message):
    teacher = dinobloom_teacher(source)
    if shape is None:
        del teacher[key]
    else:
        teacher[key] = torch.zeros(shape)
    with pytest.raises(InputError, match=message):
        D.build_dinobloom("dinobloom-s", save_teacher(tmp_path, teacher))


def test_unreadable_or_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        D.build_dinobloom("dinobloom-s", tmp_path / "absent.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="cannot read"):
        D.build_dinobloom("dinobloom-s", bad)


def test_specs():
    dims = {name: spec.dim for name, spec in D.DINOBLOOM_SPECS.items()}
    assert dims == {"dinobloom-s": 384, "dinobloom-b": 768, "dinobloom-l": 1024, "dinobloom-g": 1536}
    for spec in D.DINOBLOOM_SPECS.values():
        assert timm.is_model(spec.timm_arch)
        assert (spec.input_size, spec.patch_size, spec.tokens) == (224, 14, 257)
        assert spec.as_dict()["url"].endswith(spec.file)
    with pytest.raises(InputError, match="unknown DinoBloom backbone"):
        D.get_dinobloom_spec("dinobloom-xl")


def test_random_init_without_weights():
    torch.manual_seed(0)
    encoder = D.build_dinobloom("dinobloom-s")
    with torch.no_grad():
        assert encoder(images(1)).shape == (1, 384)


def test_giant_swiglu_keys_convert_to_the_same_function():
    """dinobloom-g (not built here: 1.1e9 parameters): DINOv2's SwiGLU keys ``mlp.w12``/``mlp.w3`` become
    timm's ``fc1``/``fc2`` and compute what DINOv2's SwiGLUFFNFused computes, silu(x1) * x2 -> w3."""
    from timm.models.vision_transformer import checkpoint_filter_fn
    torch.manual_seed(0)
    tiny = timm.create_model("vit_giant_patch14_dinov2", pretrained=False, img_size=28, depth=1, embed_dim=48,
                             num_heads=2, num_classes=0)
    state = {k.replace("mlp.fc1", "mlp.w12").replace("mlp.fc2", "mlp.w3"): v.clone()
             for k, v in tiny.state_dict().items()}
    state["mask_token"] = torch.zeros(1, 48)
    for k in ("blocks.0.mlp.w12.bias", "blocks.0.mlp.w3.bias"):
        state[k] = torch.randn(state[k].shape)
    tiny.load_state_dict(checkpoint_filter_fn(dict(state), tiny), strict=True)
    x = torch.randn(2, 5, 48)
    x1, x2 = F.linear(x, state["blocks.0.mlp.w12.weight"], state["blocks.0.mlp.w12.bias"]).chunk(2, -1)
    dinov2 = F.linear(F.silu(x1) * x2, state["blocks.0.mlp.w3.weight"], state["blocks.0.mlp.w3.bias"])
    with torch.no_grad():
        torch.testing.assert_close(tiny.blocks[0].mlp(x), dinov2)
