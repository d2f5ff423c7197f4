"""Self-supervised encoder training and full-size batch encoding (METHOD.md Step 1).

Public names are re-exported here but imported on first use: torch, torchvision
and Lightning load only when an encoder is actually needed (``vexscreen --help``
and the encoding-only commands stay fast).
"""
from importlib import import_module

_EXPORTS = {
    "BACKBONES": "backbones", "DEFAULT_BACKBONE": "names", "POOLINGS": "names", "Encoder": "backbones",
    "build_backbone": "backbones", "get_spec": "backbones", "ProjectionHead": "heads",
    "FullSizeImages": "inference", "OVERSIZE": "names", "encode_dataset": "inference",
    "encode_scan": "inference", "EncoderFile": "encoder_file", "load_encoder": "encoder_file",
    "read_encoder_file": "encoder_file", "save_encoder": "encoder_file", "METHODS": "names",
    "NNCLRLoss": "losses", "build_loss": "losses", "probe_accuracy": "probe", "TwoViews": "transforms",
    "ViewPairDataset": "transforms", "Geometry": "config", "TrainConfig": "config",
    "ContrastiveModule": "module", "save_untrained_encoder": "training", "train_encoder": "training",
    "BackboneInfo": "registry", "get_backbone_info": "registry", "list_backbones": "registry",
    "weights_record": "backbones", "DinoBloomEncoder": "dinobloom", "build_dinobloom": "dinobloom",
    "imagenet_state_dict": "pretrained",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
