"""Self-supervised encoder training and full-size batch encoding (METHOD.md Step 1)."""
from .backbones import BACKBONES, DEFAULT_BACKBONE, POOLINGS, Encoder, build_backbone, get_spec
from .heads import ProjectionHead
from .inference import (FullSizeImages, OVERSIZE, encode_dataset, encode_scan, load_encoder, read_encoder_file,
                        save_encoder)
from .losses import METHODS, NNCLRLoss, build_loss
from .probe import probe_accuracy
from .transforms import TwoViews, ViewPairDataset

__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "POOLINGS", "Encoder", "build_backbone", "get_spec",
           "ProjectionHead", "FullSizeImages", "OVERSIZE", "encode_dataset", "encode_scan", "load_encoder",
           "read_encoder_file", "save_encoder", "METHODS", "NNCLRLoss", "build_loss", "probe_accuracy",
           "TwoViews", "ViewPairDataset", "TrainConfig", "train_encoder"]


def __getattr__(name):  # training pulls in Lightning: import it only when asked
    if name in ("TrainConfig", "train_encoder"):
        from . import training
        return getattr(training, name)
    raise AttributeError(name)
