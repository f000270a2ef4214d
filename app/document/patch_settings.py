"""How the next inputs are cut into patches: the patch toolbar's choices, kept by the document."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ddrcore.objects import Patching

#: Where patches come from (ddrcore.objects.SOURCES), named once for the toolbar, the Re-cut dialog and messages.
SOURCE_LABELS = {"grid": "Grid tiles", "auto": "Objects: detect", "labels": "Objects: label images",
                 "points": "Objects: points CSV"}
#: Objects touching the image border (ddrcore.objects.Patching.border): the CLI's words, so the two read alike.
BORDER_POLICIES = ("exclude", "flag", "include")
BORDER_TIPS = {"exclude": "not cut (half a nucleus is not a nucleus)",
               "flag": "cut and scored, never trained on, marked in the gallery",
               "include": "cut like any other object"}


def crop_warning(patch_size, object_size) -> str:
    """A sentence when crops of ``patch_size`` px are smaller than objects of ``object_size`` px, else ""."""
    if patch_size and object_size and float(patch_size) < float(object_size):
        return (f"Patches of {int(patch_size)} px are smaller than the objects (about {float(object_size):.0f} px): "
                "each crop holds part of an object. Leave the patch size at 0 (twice the object size) to see "
                "whole objects.")
    return ""


@dataclass
class PatchSettings:
    """How the next inputs are cut into patches (the toolbar's choices before anything is loaded)."""

    source: str = "grid"                    # ddrcore.objects.SOURCES
    patch_size: int = 32                    # grid tiles; crops from points without an object size
    object_size: Optional[float] = None     # None: estimated from the images
    channel: object = None                  # None (grey), a channel index or "all"
    labels_dir: Optional[str] = None        # "labels": folder of label images (None: beside the images)
    points: Optional[str] = None            # "points": the CSV of centres
    border: str = "exclude"                 # objects touching the border (BORDER_POLICIES)
    # The user (toolbar, command line, project) chose the source; else loading picks objects for fields.
    chosen: bool = False

    def patching(self) -> Patching:
        """These settings as a validated :class:`~ddrcore.objects.Patching`.

        Raises
        ------
        ValueError
            When the settings are incomplete or contradict each other.
        """
        if self.source == "grid":
            return Patching("grid", patch_size=self.patch_size)
        if self.border not in BORDER_POLICIES:
            raise ValueError(f"border must be one of {', '.join(BORDER_POLICIES)}, got {self.border!r}")
        if self.source == "points" and not self.points:
            raise ValueError("Objects: points needs a CSV of centres; choose one (the … button) or pick another "
                             "patch source")
        # Points have no extent to estimate a size from: without an object size the patch size is the crop side.
        patch_size = self.patch_size if self.source == "points" and not self.object_size else None
        p = Patching(self.source, patch_size=patch_size, object_size=self.object_size or None,
                     labels_dir=self.labels_dir if self.source == "labels" else None,
                     points=self.points if self.source == "points" else None, border=self.border)
        return p.validate()
