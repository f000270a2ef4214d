"""How the next inputs are cut into patches: the patch toolbar's choices, kept by the document."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ddrcore.objects import Patching


@dataclass
class PatchSettings:
    """How the next inputs are cut into patches (the toolbar's choices before anything is loaded)."""

    source: str = "grid"                    # ddrcore.objects.SOURCES
    patch_size: int = 32                    # grid tiles; crops from points without an object size
    object_size: Optional[float] = None     # None: estimated from the images
    channel: object = None                  # None (grey), a channel index or "all"
    labels_dir: Optional[str] = None        # "labels": folder of label images (None: beside the images)
    points: Optional[str] = None            # "points": the CSV of centres

    def patching(self) -> Patching:
        """These settings as a validated :class:`~ddrcore.objects.Patching`.

        Raises
        ------
        ValueError
            When the settings are incomplete or contradict each other.
        """
        if self.source == "grid":
            return Patching("grid", patch_size=self.patch_size)
        if self.source == "points" and not self.points:
            raise ValueError("Objects: points needs a CSV of centres; choose one (the … button) or pick another "
                             "patch source")
        # Points have no extent to estimate a size from: without an object size the patch size is the crop side.
        patch_size = self.patch_size if self.source == "points" and not self.object_size else None
        p = Patching(self.source, patch_size=patch_size, object_size=self.object_size or None,
                     labels_dir=self.labels_dir if self.source == "labels" else None,
                     points=self.points if self.source == "points" else None)
        return p.validate()
