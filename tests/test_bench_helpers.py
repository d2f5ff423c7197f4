"""The pure helpers of the speed benchmarks (bench/_common.py, bench/backbones.py): counting and
bookkeeping only; nothing here is timed (speed is measured by the benchmarks themselves)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import sdpa_flop_count

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    """bench/<name>.py as a module, sys.path left as it was (bench scripts put bench/ on it)."""
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


@pytest.fixture(scope="module")
def common():
    return _load("_common")


@pytest.fixture(scope="module")
def backbones():
    return _load("backbones")


class _Attention(torch.nn.Module):
    def forward(self, x):  # x: N x heads x tokens x d, used as query, key and value
        return F.scaled_dot_product_attention(x, x, x)


def test_attention_flops_match_torchs_formula(common):
    for q, k, v in [((1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4)), ((3, 6, 257, 64), (3, 6, 100, 64), (3, 6, 100, 32))]:
        assert common.attention_flops(q, k, v) == sdpa_flop_count(q, k, v)


def test_forward_flops_counts_cpu_attention(common):
    # q @ k^T and @ v: 2 * N * heads * tokens^2 * (d + d) = 2 * 1 * 2 * 25 * 8
    assert common.forward_flops(_Attention(), (1, 2, 5, 4)) == 800
    # convolutions as before: 1 MAC = 2 FLOPs, 3 x 3 x 3 kernels, 4 channels, 8 x 8 outputs
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
    assert common.forward_flops(conv, (1, 3, 8, 8)) == 2 * 27 * 4 * 64


def test_speed_columns(common):
    cols = common.speed_columns(flops=4e9, encode_img_s=10.0, model_img_s=12.5, peak=160.0)
    assert cols == {"pipeline_vs_model": 0.8, "gflop_per_img": 4.0, "pipeline_gflop_s": 40.0,
                    "pct_of_matmul_peak": 25.0}


def test_rotations_put_each_item_first_once(common):
    items = ["a", "b", "c"]
    orders = common.rotations(items, 4)
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert [o[0] for o in orders[:3]] == items


def test_images_for_aims_at_the_seconds_within_bounds(backbones):
    # 10 s at half of a 160 GFLOP/s peak: 800 GFLOP of work
    assert backbones.images_for(gflop=10.0, peak=160.0, seconds=10.0, low=4, high=96) == 80
    assert backbones.images_for(gflop=1.0, peak=160.0, seconds=10.0, low=4, high=96) == 96
    assert backbones.images_for(gflop=600.0, peak=160.0, seconds=10.0, low=4, high=96) == 4


def test_cases_start_with_the_default_and_take_native_sides(backbones):
    args = backbones.parse(["--backbones", "resnet18,inception_v3,efficientnet_b4,dinobloom-s",
                            "--oversize", "resize"])
    cases = backbones.cases_of(args)
    assert cases[0] == (backbones.DEFAULT_LABEL, "resnet18", None, None)
    assert [(c[1], c[2], c[3]) for c in cases[1:]] == [
        ("resnet18", 224, "resize"), ("inception_v3", 299, "resize"), ("efficientnet_b4", 380, "resize"),
        ("dinobloom-s", 224, "resize")]
    assert "dinobloom-g" not in backbones.parse([]).backbones


def test_parse_refuses_unknown_backbones_and_bad_ranges(backbones):
    from vexscreen.exceptions import InputError

    with pytest.raises(InputError):
        backbones.parse(["--backbones", "resnet181"])
    with pytest.raises(SystemExit):
        backbones.parse(["--runs", "0"])
