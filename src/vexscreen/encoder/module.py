"""The LightningModule: encoder (backbone + pooling) -> projection head -> contrastive loss."""
from __future__ import annotations

import lightning as L
import torch

from .backbones import build_backbone
from .heads import ProjectionHead
from .losses import DenseLoss, build_loss


class ContrastiveModule(L.LightningModule):
    def __init__(self, backbone: str = "resnet18", pooling: str = "avg", weights: str | None = None,
                 method: str = "nnclr", queue_size: int = 0, temperature: float = 0.07,
                 lr: float = 1e-5, head_hidden: int = 128, head_out: int = 128, seed: int = 43,
                 lr_patience: int = 3, lr_floor: float = 1e-5, min_delta: float = 1e-3, dense: float = 0.0):
        super().__init__()
        # plain values only: the Lightning checkpoint then loads with weights_only=True
        self.save_hyperparameters(ignore=["weights"])
        self.encoder = build_backbone(backbone, pooling, weights)
        self.head = ProjectionHead(self.encoder.dim, head_hidden, head_out)
        self.criterion = build_loss(method, temperature, queue_size, head_out, seed)
        if dense:  # DenseCL-style term on the feature maps, weight `dense` (0 = the study)
            self.dense_head = ProjectionHead(self.encoder.dim, head_hidden, head_out)
            self.dense_criterion = DenseLoss(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def training_step(self, batch, batch_idx):
        v1, v2, *local = batch
        m1, m2 = self.encoder.feature_map(v1), self.encoder.feature_map(v2)
        z1 = self.head(torch.flatten(self.encoder.pool(m1), 1))  # = self.encoder(v1), map kept
        z2 = self.head(torch.flatten(self.encoder.pool(m2), 1))
        loss = self.criterion(z1, z2)
        if self.hparams.get("dense"):
            f1, f2 = m1.flatten(2).transpose(1, 2), m2.flatten(2).transpose(1, 2)  # B x locations x C
            w = self.hparams.dense
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
        hp = self.hparams
        opt = torch.optim.Adam(self.parameters(), lr=hp.lr)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.5, patience=hp.lr_patience, threshold=hp.min_delta,
            threshold_mode="abs", min_lr=min(hp.lr_floor, hp.lr))
        return {"optimizer": opt,
                "lr_scheduler": {"scheduler": sched, "monitor": "loss", "interval": "epoch", "frequency": 1}}
