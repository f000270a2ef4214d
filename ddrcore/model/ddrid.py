"""A trained DDR-ID model: networks, Z_C, preprocessing, score choice, threshold."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..config import TrainConfig
from .score_type import ScoreType
from .preprocess import Preprocessor

if TYPE_CHECKING:   # torch is imported where it is used: the GUI's window shows before torch loads
    import torch

    from .networks import DDRIDNetworks



@dataclass
class DDRIDModel:
    nets: DDRIDNetworks
    z_c: torch.Tensor                 # (latent_dim,) normal-class template in latent space
    preprocessor: Preprocessor
    config: TrainConfig
    score_type: str = ScoreType.LATENT.value   # Algorithm 2's choice (ScoreType)
    threshold: float = float("inf")   # default tau, from validation normals
    validation: dict = field(default_factory=dict)  # mean AS_l / AS_r on the validation subset, etc.
    training: dict = field(default_factory=dict)    # what happened: sizes, steps, time, device
    # Both scores of every validation patch, so the other score (and its
    # threshold) can be chosen later without the training data.
    validation_scores: dict = field(default_factory=dict)  # {"latent": array, "recon": array}
    device: str = "cpu"
    # The training normals' measurements (cellscore.MeasureModel), for objects with a known extent; else None.
    measure: Optional[object] = None
    # R_C as pretraining left it (TrainConfig.x_c_source "pretrained"): X_C and AS_e come from it; else None.
    view: Optional[object] = None

    def stamp(self, name: str = ""):
        """This model as the ranked CSV records it (:class:`ddrcore.io.export.ModelStamp`); ``name``:
        the model file's name."""
        from ..io.export import ModelStamp

        return ModelStamp(name=name, seed=self.config.seed, preprocess_min=self.preprocessor.minimum,
                          preprocess_max=self.preprocessor.maximum, patching=self.config.patching(),
                          validation_scores=self.validation_scores)

    @property
    def channels(self) -> int:
        return self.nets.channels

    @property
    def input_size(self) -> int:
        return self.nets.input_size

    def to(self, device: str) -> "DDRIDModel":
        self.nets.to(device)
        if self.view is not None:
            self.view.to(device)
        self.z_c = self.z_c.to(device)
        self.device = device
        return self

    def eval(self) -> "DDRIDModel":
        self.nets.eval()
        if self.view is not None:
            self.view.eval()
        return self

    def incompatibility(self, patch_size: int, channel, channels: Optional[int] = None,
                        objects: Optional[str] = None) -> Optional[str]:
        """Why this model cannot score patches cut this way, or None if it can.

        A model only means something for patches cut, channel-selected and
        sized the way its training patches were; anything else would give
        scores that look valid but are not (or a shape error deep in torch).
        """
        want = []
        if objects is not None and objects != self.config.objects:
            want.append(f"patches from {self.config.objects!r} (these are from {objects!r})")
        if int(patch_size) != int(self.config.patch_size):
            want.append(f"{self.config.patch_size} px patches (these are {patch_size} px)")
        if channel != self.config.channel:
            want.append(f"channel setting {self.config.channel!r} (this is {channel!r})")
        if channels is not None and int(channels) != self.channels:
            want.append(f"{self.channels}-channel input (these patches have {channels})")
        if not want:
            return None
        return "the model was trained on " + "; ".join(want)

    def summary(self) -> dict:
        """Plain facts about the model, for `ddrid info`, CSVs and reports."""
        return {
            "score_type": self.score_type,
            "threshold": self.threshold,
            "seed": self.config.seed,
            "preprocess": self.preprocessor.to_dict(),
            "channels": self.channels,
            "input_size": self.input_size,
            "patch_size": self.config.patch_size,
            "channel": self.config.channel,
            "patching": self.config.patching().to_dict(),
            "latent_dim": self.nets.latent_dim,
            "validation": self.validation,
            "training": self.training,
            "config": self.config.to_dict(),
        }


def to_tensor(x: np.ndarray, device: str) -> "torch.Tensor":
    import torch

    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)

