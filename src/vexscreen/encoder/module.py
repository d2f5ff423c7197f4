"""The LightningModule: encoder (backbone + pooling, or a ViT's CLS token) -> projection head -> contrastive loss."""
from __future__ import annotations

from dataclasses import asdict, replace

import lightning as L
import torch

from .backbones import build_backbone
from .config import TrainConfig
from .heads import ProjectionHead
from .losses import DenseLoss, build_loss


class ContrastiveModule(L.LightningModule):
    """Built from a ``TrainConfig`` (or its ``asdict``, as the Lightning checkpoint holds it).

    ``cfg.weights`` (None, "imagenet" or a file: ``build_backbone``) initialises the backbone; pass
    a config with ``weights=None`` when a checkpoint will provide the weights (``--resume``).
    A ViT backbone (DinoBloom) is built to take the training crops' size as well as its own.
    """

    def __init__(self, cfg: TrainConfig | dict | None = None):
        super().__init__()
        cfg = TrainConfig(**cfg) if isinstance(cfg, dict) else (cfg or TrainConfig())
        self.cfg = cfg
        # plain values only, so the Lightning checkpoint loads with weights_only=True; the weights
        # file path is not kept (the checkpoint holds the weights)
        self.save_hyperparameters({"cfg": asdict(replace(cfg, weights=None))}, logger=False)
        self.encoder = build_backbone(cfg.backbone, cfg.pooling, cfg.weights, dynamic_size=True)
        self.head = ProjectionHead(self.encoder.dim, cfg.head_hidden, cfg.head_out)
        self.criterion = build_loss(cfg.method, cfg.temperature, cfg.queue_size, cfg.head_out, cfg.seed)
        if cfg.dense:  # DenseCL-style term on the feature maps, weight `dense` (0 = the study)
            self.dense_head = ProjectionHead(self.encoder.dim, cfg.head_hidden, cfg.head_out)
            self.dense_criterion = DenseLoss(cfg.temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def training_step(self, batch, batch_idx):
        v1, v2, *local = batch
        (e1, m1), (e2, m2) = self.encoder.forward_with_map(v1), self.encoder.forward_with_map(v2)
        z1, z2 = self.head(e1), self.head(e2)  # e = self.encoder(v) (pooled map, or the CLS token), map kept
        loss = self.criterion(z1, z2)
        if self.cfg.dense:
            f1, f2 = m1.flatten(2).transpose(1, 2), m2.flatten(2).transpose(1, 2)  # B x locations x C
            w = self.cfg.dense
            loss = (1 - w) * loss + w * self.dense_criterion(f1, f2, self.dense_head(f1), self.dense_head(f2))
        if local:  # multi-crop: every local patch paired with both whole views, all pairs averaged
            pairs = [loss]
            for v in local:
                zl = self.head(self.encoder(v))
                pairs += [self.criterion(z1, zl), self.criterion(z2, zl)]
            loss = torch.stack(pairs).mean()
        self.log("loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=len(v1))
        return loss

    def configure_optimizers(self):
        cfg = self.cfg
        opt = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.5, patience=cfg.lr_patience, threshold=cfg.min_delta,
            threshold_mode="abs", min_lr=min(cfg.lr_floor, cfg.lr))
        return {"optimizer": opt,
                "lr_scheduler": {"scheduler": sched, "monitor": "loss", "interval": "epoch", "frequency": 1}}
