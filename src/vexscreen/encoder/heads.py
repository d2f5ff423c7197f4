"""Projection head: the study's Dense(128, relu) -> Dense(128), no batch norm.

lightly's ``SimCLRProjectionHead`` puts batch norm after every hidden layer
(lightly 1.6), so it is not the study's head; ``ProjectionHead`` (lightly's
generic block list) builds exactly the study's head when given no norm layers.
"""
from __future__ import annotations

from torch import nn
from lightly.models.modules.heads import ProjectionHead as _LightlyProjectionHead


class ProjectionHead(_LightlyProjectionHead):
    """``input_dim`` -> Linear(hidden) -> ReLU -> Linear(output); no batch norm."""

    def __init__(self, input_dim: int, hidden_dim: int = 128, output_dim: int = 128):
        super().__init__([
            (input_dim, hidden_dim, None, nn.ReLU()),
            (hidden_dim, output_dim, None, None),
        ])
        self.input_dim, self.hidden_dim, self.output_dim = input_dim, hidden_dim, output_dim
