"""Training settings, with the paper's defaults (Section 4.1)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Optional, Union


# Sizes, limits and devices live at the bottom of the engine (base.py), where io and objects can use
# them without depending on the training settings; they stay importable from here for older callers.
from .base import (CLASS_ENCODERS, DEVICE_CHOICES, INPUT_SIZES, MAX_BATCH, MAX_CHANNELS, MAX_EPOCHS,  # noqa: F401
                   MAX_INPUT_SIZE, MAX_LATENT_DIM, MAX_PATCH_SIZE, MAX_SEED, autocast, check_input_size,
                   default_input_size, describe_devices, select_device)


@dataclass
class TrainConfig:
    """Everything that decides a training run; stored in every model file.

    Defaults follow the paper (Section 4.1, after Deep SVDD): 150 pretraining
    and 100 finetuning epochs, Adam with learning rate 1e-4 dropped to 1e-5
    after 50 epochs, weight decay 1e-6, batch 256, 90/10 train/validation split.
    """

    # --- data ---
    patch_size: int = 32          # side of the squares cut from images (pixels)
    input_size: int = 32          # network input side; patches are resized to it
    channel: Union[None, int, str] = None  # None: grey only; k: one channel; "all"
    # How patches are cut (ddrcore.objects.Patching): "grid" tiles, or crops
    # centred on objects ("auto", "labels", "points") of ~object_size pixels
    # across; patch_size is then the crop side actually used.
    objects: str = "grid"
    stride: Optional[int] = None       # grid tiles: step between origins (None: patch_size)
    object_size: Optional[float] = None
    border: str = "exclude"            # objects touching the image border (Patching.border)
    neighbours: str = "mask"           # other objects inside a crop (Patching.neighbours)
    per_image: bool = False            # object_size is an estimate; images at another magnification get their own
    # Object crops only: each training batch turned and mirrored at random (objects have no up or down).
    augment: bool = True
    # --- schedule (epochs as in the paper) ---
    pretrain_epochs: int = 150
    finetune_epochs: int = 100
    lr: float = 1e-4
    lr_milestone: int = 50        # epoch after which lr is multiplied by lr_gamma
    lr_gamma: float = 0.1
    weight_decay: float = 1e-6
    batch_size: int = 256
    # The paper's data sets give ~20 steps per epoch at batch 256; a few hundred
    # microscopy patches give 1.  Below this many steps per epoch the batch is
    # shrunk so training takes enough optimiser steps to converge.
    min_steps_per_epoch: int = 8
    # --- model ---
    latent_dim: Optional[int] = None   # None: 128 for 1 channel, 512 for 3 (Table 1)
    latent_sigma: float = 0.1          # std of N(Z_C, sigma^2 I) that D_L compares against
    val_fraction: float = 0.1
    # Re-estimate BatchNorm statistics over the training subset before Z_C and
    # before scoring: with few steps the running averages stay near their
    # initial values and eval-mode outputs can invert the ranking.
    recalibrate_batchnorm: bool = True
    threshold_quantile: float = 0.95   # default threshold: this quantile of validation scores
    # --- run ---
    seed: int = 0
    device: str = "auto"
    # "fp32" (default) or "bf16": opt-in bfloat16 autocast.  Its speed and AUC
    # cost are measured by `ddrid bench speed` / benchmarks/, not assumed.
    precision: str = "fp32"
    # --- method ---
    # "explain" (the default since ddrid 0.2): X_C follows the input, E_C is a one-class
    # encoder, the score is AS_c.  "paper": Algorithm 1's losses (Eq. 3-6), Table 1's
    # networks and Algorithm 2, for reproducing the paper.  What each changes, and the
    # measurement that justifies it, is in docs/method.md ("Profiles").
    # Model files written before this field existed load as "paper".
    profile: str = "explain"
    # E_C's form (ddrcore.model.networks.CLASS_ENCODERS): None follows the profile ("biasfree" under
    # "explain", Table 1's layers under "paper").  Model files from before this field keep Table 1's.
    class_encoder: Optional[str] = None
    # Which parts AS_cell joins (CELL_RULES), for objects with a known extent.  "residual+measure":
    # AS_e and AS_m.  AS_l was dropped from it on 2026-12-06: on four real fields (two from outside
    # the repository) x four seeds it was the weakest part (AUC 0.77-0.91 alone) and its scale, taken
    # from a few held-out objects, let it outweigh the others (docs/benchmarks.md, "Real fields").
    # Model files from before this field keep "latent+residual+measure".
    cell_rule: str = "residual+measure"
    # How AS_m reads an object's intensities (MEASURE_INTENSITIES): "page", against its page's background
    # and typical object (a field at another exposure or camera offset measures as it did; read raw, a
    # field 1.2 times as bright had 30 of its 40 normal nuclei flagged, one with 200 counts of camera
    # offset all 40); "raw", in native units, as model files from before 2026-12-07 keep.
    measure_intensity: str = "page"
    # Where X_C (and AS_e, the residual it leaves) comes from (X_C_SOURCES); None follows the profile
    # ("pretrained" under "explain", "finetuned" under "paper").  "finetuned": R_C after the one-class
    # finetuning, as DDR-ID has it.  "pretrained": a copy of R_C taken after pretraining and kept as it
    # was; the finetuned E_C still gives AS_l and AS_r.  L_OC draws E_C's codes together, and D_C can
    # only decode what the code still holds: on ring variations X_C's correlation with the input fell
    # from 0.92-0.98 (pretrained) to 0.74-0.93 (benchmarks/experiments/decomposition.md).  Model files
    # from before this field keep "finetuned".
    x_c_source: Optional[str] = None

    def encoder_form(self) -> str:
        """E_C's form this configuration trains: the stated one, else the profile's."""
        if self.class_encoder is not None:
            return self.class_encoder
        return "biasfree" if self.profile == "explain" else "table1"

    def x_c_from(self) -> str:
        """Where X_C comes from in this configuration: the stated source, else the profile's."""
        if self.x_c_source is not None:
            return self.x_c_source
        return "pretrained" if self.profile == "explain" else "finetuned"

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def check_settings(settings: dict) -> None:
        """Raise ValueError unless the known fields in ``settings`` (e.g. a project's saved training
        settings) make a valid configuration together with the defaults; unknown keys are ignored."""
        known = {f.name for f in fields(TrainConfig)}
        chosen = {k: v for k, v in settings.items() if k in known}
        if chosen:
            TrainConfig.from_dict({**TrainConfig().to_dict(), **chosen, "channel": None}).validate()
        if settings.get("patching") is not None:
            from .objects.patching import Patching

            Patching.from_dict(settings["patching"])      # how the project's images are cut: checked too

    @staticmethod
    def from_dict(d: dict) -> "TrainConfig":
        known = {f.name for f in fields(TrainConfig)}
        # Model files from before these settings cut every object and kept its neighbours.
        d = {"border": "include", "neighbours": "keep", "augment": False, "per_image": False,
             "class_encoder": "table1", "cell_rule": "latent+residual+measure", "x_c_source": "finetuned",
             "measure_intensity": "raw", **d}
        return TrainConfig(**{k: v for k, v in d.items() if k in known})

    def patching(self, labels_dir: Optional[str] = None, points: Optional[str] = None):
        """The patch-source settings this configuration stores (see ddrcore.objects.Patching)."""
        from .objects.patching import Patching

        # With per-image sizes the crop side follows each image's object size; patch_size records the reference's.
        return Patching(self.objects, patch_size=None if self.per_image else self.patch_size, stride=self.stride,
                        object_size=self.object_size, labels_dir=labels_dir, points=points, border=self.border,
                        neighbours=self.neighbours, per_image=self.per_image)

    def set_patching(self, patching) -> None:
        """Store resolved patch-source settings (crop side and object size known)."""
        self.objects = patching.source
        self.patch_size = patching.crop_side()
        self.stride = patching.stride
        self.object_size = patching.object_size
        self.border = patching.border
        self.neighbours = patching.neighbours
        self.per_image = patching.per_image

    def validate(self) -> None:
        """Raise ValueError with a user-facing message (naming the field) for impossible settings.

        Every field is checked for its type and range (:data:`LIMITS`), so a
        forged model or project file is refused before any network is built.
        """
        for name, (lo, hi) in LIMITS.items():
            value = getattr(self, name)
            if name == "latent_dim" and value is None:
                continue
            if name in INT_FIELDS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{name} must be an integer, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be {lo:g}..{hi:g}, got {value!r}")
        check_input_size(self.input_size)
        if self.channel is not None and self.channel != "all" and (
                isinstance(self.channel, bool) or not isinstance(self.channel, int) or not 0 <= self.channel < MAX_CHANNELS):
            raise ValueError(f"channel must be None, 'all' or 0..{MAX_CHANNELS - 1}, got {self.channel!r}")
        for name in ("recalibrate_batchnorm", "augment", "per_image"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        if not isinstance(self.device, str) or not isinstance(self.objects, str):
            raise ValueError("device and objects must be names")
        if self.stride is not None and (isinstance(self.stride, bool) or not isinstance(self.stride, int)
                                        or not 1 <= self.stride <= MAX_PATCH_SIZE):
            raise ValueError(f"stride must be 1..{MAX_PATCH_SIZE}, got {self.stride!r}")
        if self.object_size is not None and (isinstance(self.object_size, bool)
                                             or not isinstance(self.object_size, (int, float))
                                             or not math.isfinite(self.object_size)):
            raise ValueError(f"object_size must be a finite number, got {self.object_size!r}")
        self.patching().validate()
        if self.patch_size < 4:
            raise ValueError(f"patch size must be at least 4 pixels, got {self.patch_size}")
        for name in ("pretrain_epochs", "finetune_epochs", "lr_milestone"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be >= 0")
        if self.batch_size < 2:
            raise ValueError("batch size must be at least 2 (BatchNorm needs two samples)")
        if not 0 < self.val_fraction < 1:
            raise ValueError("validation fraction must be between 0 and 1")
        if not 0 < self.threshold_quantile <= 1:
            raise ValueError("threshold quantile must be in (0, 1]")
        if self.lr <= 0 or self.latent_sigma <= 0:
            raise ValueError("learning rate and latent sigma must be positive")
        if not isinstance(self.profile, str) or self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        if not isinstance(self.cell_rule, str) or self.cell_rule not in CELL_RULES:
            raise ValueError(f"cell_rule must be one of {', '.join(CELL_RULES)}, got {str(self.cell_rule)[:40]!r}")
        if not isinstance(self.measure_intensity, str) or self.measure_intensity not in MEASURE_INTENSITIES:
            raise ValueError(f"measure_intensity must be one of {', '.join(MEASURE_INTENSITIES)}, "
                             f"got {str(self.measure_intensity)[:40]!r}")
        if self.x_c_source is not None and self.x_c_source not in X_C_SOURCES:
            raise ValueError(f"x_c_source must be one of {', '.join(X_C_SOURCES)}, got {str(self.x_c_source)[:40]!r}")
        if self.class_encoder is not None and self.class_encoder not in CLASS_ENCODERS:
            raise ValueError(f"class_encoder must be one of {', '.join(CLASS_ENCODERS)}, "
                             f"got {self.class_encoder!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


PRECISIONS = ("fp32", "bf16")
#: Training profiles: "explain" (default) trains a decomposition that explains; "paper" reproduces the paper.
PROFILES = ("explain", "paper")
#: The parts AS_cell joins, "+"-separated score names (ddrcore.model.cellscore.cell_score); the first is the default.
CELL_RULES = ("residual+measure", "latent+residual+measure")
#: How AS_m reads intensities (TrainConfig.measure_intensity); the first is the default.
MEASURE_INTENSITIES = ("page", "raw")
#: Where X_C comes from (TrainConfig.x_c_source).
X_C_SOURCES = ("finetuned", "pretrained")

# Allowed ranges, checked for every configuration (command line, GUI, model and project files).
INT_FIELDS = ("patch_size", "input_size", "pretrain_epochs", "finetune_epochs", "lr_milestone", "batch_size",
              "min_steps_per_epoch", "latent_dim", "seed")
LIMITS = {
    "patch_size": (4, MAX_PATCH_SIZE),
    "input_size": (32, MAX_INPUT_SIZE),
    "pretrain_epochs": (0, MAX_EPOCHS),
    "finetune_epochs": (0, MAX_EPOCHS),
    "lr_milestone": (0, MAX_EPOCHS),
    "batch_size": (2, MAX_BATCH),
    "min_steps_per_epoch": (0, 1_000_000),
    "latent_dim": (1, MAX_LATENT_DIM),
    "seed": (0, MAX_SEED),
    "lr": (0.0, 1e308),
    "lr_gamma": (0.0, 10.0),
    "weight_decay": (0.0, 10.0),
    "latent_sigma": (0.0, 1e308),
    "val_fraction": (0.0, 1.0),
    "threshold_quantile": (0.0, 1.0),
}
