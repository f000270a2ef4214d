"""How patches are cut from a page: the patch-source settings.

One settings object serves ``ddrid train``, ``ddrid score``, ``ddrid objects``
and the GUI, and is stored in every model file so that scoring cuts patches
the way training did.

Sources
-------
``grid``
    Square tiles of ``patch_size`` (the first version's behaviour);
    ``stride`` below ``patch_size`` gives overlapping tiles.
``auto``
    Bright objects found in each page (:func:`ddrcore.objects.detect_objects`),
    one square crop centred on each.
``labels``
    One crop per object of a label image (Cellpose, StarDist, ilastik,
    CellProfiler), found beside the image by :func:`find_label_image`.
``points``
    One crop per centre listed in a CSV (``path,y,x`` or napari's
    ``axis-0,axis-1``).

Object crops are ``patch_size`` pixels a side when given, else twice the
object size (the object plus as much context around it).  Other objects in
a crop are masked to the local background (``neighbours="mask"``, see
:mod:`ddrcore.objects.crops`), and objects touching the image border are
left out, kept and marked, or treated like any other (``border``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Optional

SOURCES = ("grid", "auto", "labels", "points")
#: What happens to objects that touch the image border (half a nucleus cannot be judged).
BORDER_POLICIES = ("exclude", "flag", "include")
#: What a crop shows of other objects: masked to the local background except the object's own small
#: bodies (``cells``), all masked (``mask``), or kept (``keep``).
NEIGHBOUR_POLICIES = ("cells", "mask", "keep")

#: Object sizes outside this range are refused: below it a "object" is a few
#: pixels of noise, above it one object would fill a whole large field.
MIN_OBJECT_SIZE = 3.0
MAX_OBJECT_SIZE = 1024.0

def reference_size(estimates) -> float:
    """The object size a folder is cut at: the median of its largest group of one magnification.

    Sorted per-image estimates fall into groups where one is more than
    :data:`SAME_MAGNIFICATION` times the one before.  Each image is then cut
    at this size when its own estimate is within that factor of it, else at
    its own (:meth:`Patching.for_image`; at scoring too, against the size the
    model keeps, so training and scoring cut alike).  The median of all
    estimates was used before: with two images of 11 and 18 px objects it was
    14.6 px, within the factor of both, and both were cut at it (the 18 px
    nuclei filled their crops).  Groups of equal count: the finer
    magnification (smaller objects), which keeps the network input small.

    Examples
    --------
    >>> reference_size([11.1, 18.2]), reference_size([20.0, 21.5, 22.0, 45.0]), reference_size([24.0])
    (11.1, 21.5, 24.0)
    >>> reference_size([23.7, 84.0, 86.0])
    85.0
    """
    from statistics import median

    e = sorted(float(v) for v in estimates)
    if not e:
        raise ValueError("no object size estimates")
    groups = [[e[0]]]
    for before, v in zip(e, e[1:]):
        if v > SAME_MAGNIFICATION * before:
            groups.append([])
        groups[-1].append(v)
    best = max(groups, key=lambda g: (len(g), -median(g)))
    return float(median(best))


#: Grid tiles when nothing else is said (the paper's patch size).
DEFAULT_TILE = 32

#: Per-image object sizes within this factor of the reference are one magnification (estimates on one
#: magnification vary by ~10-20 %; objectives differ by 2x or more).
SAME_MAGNIFICATION = 1.4


@dataclass(frozen=True)
class Patching:
    """Patch-source settings.

    Parameters
    ----------
    source : {'grid', 'auto', 'labels', 'points'}
        Where patches come from (see the module docstring).
    patch_size : int, optional
        Side of each square patch in page pixels.  Default: 32 for the grid,
        ``2 * object_size`` for objects.
    stride : int, optional
        Grid only: step between tile origins (default ``patch_size``: no overlap).
    object_size : float, optional
        Typical object diameter in pixels.  ``auto`` estimates it per folder
        when it is not given; ``labels`` measures it from the label images.
    labels_dir : str, optional
        ``labels`` only: folder of label images (default: beside the images).
    points : str, optional
        ``points`` only: CSV of object centres.
    border : {'exclude', 'flag', 'include'}
        Objects touching the image border: not cut (``exclude``, the default,
        as CellProfiler's object identification does), cut and scored but
        never trained on and marked ``touches_border`` (``flag``), or cut like
        any other (``include``).  Measured in ``ddrid bench real``.
    neighbours : {'cells', 'mask', 'keep'}
        Pixels of other objects in a crop: set to the local background, except
        bodies under a third of the object's diameter beside it, which belong
        to its cell (``cells``: a micronucleus stays in view); all set to the
        background (``mask``); or kept (``keep``, model files from before masking).
    per_image : bool
        ``object_size`` is the folder's (or the model's) estimate, not the
        user's word: an image whose own estimate differs from it by more than
        :data:`SAME_MAGNIFICATION` (another magnification) is cut at its own
        size; the others at ``object_size``, so that a small object stays
        small.  :meth:`for_image` applies it.

    Examples
    --------
    >>> Patching("auto", object_size=20).crop_side()
    40
    >>> Patching().crop_side()
    32
    """

    source: str = "grid"
    patch_size: Optional[int] = None
    stride: Optional[int] = None
    object_size: Optional[float] = None
    labels_dir: Optional[str] = None
    points: Optional[str] = None
    border: str = "exclude"
    neighbours: str = "mask"
    per_image: bool = False

    @property
    def is_grid(self) -> bool:
        return self.source == "grid"

    def crop_side(self) -> int:
        """Side of every patch in page pixels, once the object size is known."""
        if self.patch_size is not None:
            return int(self.patch_size)
        if self.is_grid:
            return DEFAULT_TILE
        if self.object_size is None:
            raise ValueError("the object size is not known yet; give --object-size or --patch-size")
        return max(4, int(round(2 * self.object_size)))

    def with_object_size(self, size: float) -> "Patching":
        return replace(self, object_size=float(size))

    def for_image(self, estimate: Optional[float]) -> "Patching":
        """The settings for one image whose own object-size estimate is ``estimate`` (None: unknown).

        Examples
        --------
        >>> p = Patching("auto", object_size=25.0, per_image=True)
        >>> p.for_image(27.0).object_size, p.for_image(81.0).crop_side(), p.for_image(None).crop_side()
        (25.0, 162, 50)
        """
        if not self.per_image or estimate is None or self.object_size is None or self.patch_size is not None:
            return self
        ratio = float(estimate) / float(self.object_size)
        if 1 / SAME_MAGNIFICATION <= ratio <= SAME_MAGNIFICATION:
            return self
        return replace(self, object_size=float(round(float(estimate), 1)))

    def validate(self) -> "Patching":
        """Raise ValueError with a user-facing line for impossible settings; return self."""
        if self.source not in SOURCES:
            raise ValueError(f"unknown patch source {self.source!r}; use one of {', '.join(SOURCES)}")
        if self.border not in BORDER_POLICIES:
            raise ValueError(f"border policy must be one of {', '.join(BORDER_POLICIES)}, got {self.border!r}")
        if not isinstance(self.per_image, bool):
            raise ValueError(f"per_image must be true or false, got {self.per_image!r}")
        if self.neighbours not in NEIGHBOUR_POLICIES:
            raise ValueError(f"neighbours must be one of {', '.join(NEIGHBOUR_POLICIES)}, got {self.neighbours!r}")
        if self.patch_size is not None and not 4 <= int(self.patch_size) <= 4096:
            raise ValueError(f"patch size must be 4..4096 pixels, got {self.patch_size}")
        if self.stride is not None:
            if not self.is_grid:
                raise ValueError("--stride applies to grid tiles only (--objects grid)")
            if not 1 <= int(self.stride) <= self.crop_side():
                raise ValueError(f"stride must be 1..{self.crop_side()} pixels (the patch size), got {self.stride}")
        if self.object_size is not None:
            s = float(self.object_size)
            if not math.isfinite(s) or not MIN_OBJECT_SIZE <= s <= MAX_OBJECT_SIZE:
                raise ValueError(f"object size {self.object_size!r} px is outside {MIN_OBJECT_SIZE:g}.."
                                 f"{MAX_OBJECT_SIZE:g} px; give the typical object diameter in pixels")
        return self

    # What a model file stores: the settings that decide how patches look.
    # Where labels or points live is a property of each folder, not of the model.
    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("labels_dir")
        d.pop("points")
        return d

    @staticmethod
    def from_dict(d: dict) -> "Patching":
        """Settings from a model or project file; every field is checked."""
        if not isinstance(d, dict):
            raise ValueError("patching settings must be a mapping")
        source = d.get("source", "grid")
        if not isinstance(source, str):
            raise ValueError("patching source must be a string")

        def opt_int(name):
            v = d.get(name)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"patching {name} must be an integer, got {v!r}")
            return v

        def choice(name, allowed, old):
            # Files written before a setting existed were cut the old way.
            v = d.get(name, old)
            if v not in allowed:
                raise ValueError(f"patching {name} must be one of {', '.join(map(str, allowed))}, got {v!r}")
            return v

        size = d.get("object_size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float))):
            raise ValueError(f"patching object_size must be a number, got {size!r}")
        return Patching(source=source, patch_size=opt_int("patch_size"), stride=opt_int("stride"),
                        object_size=None if size is None else float(size),
                        border=choice("border", BORDER_POLICIES, "include"),
                        neighbours=choice("neighbours", NEIGHBOUR_POLICIES, "keep"),
                        per_image=choice("per_image", (True, False), False)).validate()


def object_size_arg(value: str) -> float:
    """An argparse type for --object-size (ddrid and ddrid-gui): 3..1024 pixels; nan and inf refused."""
    import argparse

    try:
        size = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("object size must be a number of pixels") from None
    if not MIN_OBJECT_SIZE <= size <= MAX_OBJECT_SIZE:   # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"object size must be {MIN_OBJECT_SIZE:g}..{MAX_OBJECT_SIZE:g} pixels "
                                         "(the typical object diameter)")
    return size


def sizes_in_words(patching: Patching, sources=(), brief: bool = False) -> str:
    """The object size and crop side patches were cut at, in words: each image's own where they differ.

    A folder mixing magnifications is cut at each image's own size
    (:meth:`Patching.for_image`), so the folder's median size, which no
    image may have been cut at, must not be the only figure a user sees.
    ``sources`` are the patches' sources (``path`` and ``size``, the crop
    side in page pixels); an object's size is half its crop's side (the
    side is twice the size, rounded to a whole pixel).
    ``brief``: only the sizes, for a one-line status where space is short.

    Examples
    --------
    >>> from types import SimpleNamespace as S
    >>> p = Patching("auto", object_size=54.0, per_image=True)
    >>> sizes_in_words(p)
    'object size 54 px, crops 108 px'
    >>> sizes_in_words(p, [S(path="a", size=108), S(path="b", size=108)])
    'object size 54 px, crops 108 px'
    >>> sizes_in_words(p, [S(path="a", size=47), S(path="a", size=47), S(path="b", size=168)])
    'object size per image: 23.5 px (1 image), 84 px (1 image); crops 47, 168 px'
    >>> sizes_in_words(p, [S(path="a", size=47), S(path="b", size=168)], brief=True)
    'object size per image 23.5, 84 px'
    >>> sizes_in_words(Patching("points", patch_size=40))
    'crops 40 px'
    """
    images: dict = {}
    for s in sources:
        images.setdefault(int(s.size), set()).add(str(s.path))
    sides = sorted(images)
    if len(sides) <= 1 and (not sides or sides[0] == patching.crop_side()):
        if patching.object_size is None:
            return f"crops {patching.crop_side()} px"
        return f"object size {patching.object_size:g} px, crops {patching.crop_side()} px"

    def count(n: int) -> str:
        return f"{n} image" + ("s" if n != 1 else "")

    if brief:
        sizes = ", ".join(f"{side / 2:g}" for side in sides) if len(sides) <= 4 else \
            f"{sides[0] / 2:g}-{sides[-1] / 2:g}"
        return f"object size per image {sizes} px"
    if len(sides) > 4:
        n = len(set().union(*images.values()))
        return (f"object size per image, {sides[0] / 2:g}-{sides[-1] / 2:g} px over {count(n)}; "
                f"crops {sides[0]}-{sides[-1]} px")
    parts = ", ".join(f"{side / 2:g} px ({count(len(images[side]))})" for side in sides)
    return f"object size per image: {parts}; crops {', '.join(map(str, sides))} px"
