"""What an image file says about its pixels: their size in micrometres.

Read from the file's own metadata, never guessed:

* OME-XML (OME-TIFF, and what Bio-Formats / bioio write): ``PhysicalSizeY`` /
  ``PhysicalSizeX`` of the first image, with ``PhysicalSizeYUnit`` /
  ``PhysicalSizeXUnit`` (default µm, as the OME schema says).
* ImageJ TIFFs (Fiji "Save As Tiff", tifffile ``imagej=True``): the TIFF tags
  ``YResolution`` / ``XResolution`` (pixels per unit) with ImageJ's ``unit``
  (``micron``, ``um``, ``nm``, ``mm``, ...).  ImageJ's ``spacing`` is the Z
  step, not the pixel size, and is not used for it.
* Files read through bioio (CZI, ND2, LIF): the reader's ``physical_pixel_sizes``
  (:mod:`ddrcore.io.formats`).

Anything else (PNG, JPEG, a TIFF with resolution in inches or no unit) has no
known pixel size: ``None``, and the µm columns stay empty.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional, Tuple, Union

#: Micrometres per unit, by the spellings ImageJ and OME use.
_UM_PER = {
    "µm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0, "\\u00b5m": 1.0,
    "μm": 1.0,   # GREEK SMALL LETTER MU, as some writers spell it
    "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3,
    "cm": 1e4, "m": 1e6, "pm": 1e-6, "å": 1e-4, "angstrom": 1e-4,
}

PixelSize = Tuple[float, float]    # (y, x) in µm


def to_um(value, unit: Optional[str]) -> Optional[float]:
    """``value`` in ``unit`` as micrometres, or None when it is not a positive finite length.

    Examples
    --------
    >>> to_um(0.65, "µm"), to_um(650, "nm"), to_um(1, "inch"), to_um(-1, "um")
    (0.65, 0.65, None, None)
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    factor = _UM_PER.get((unit or "µm").strip().lower())
    if factor is None or not math.isfinite(v) or v <= 0:
        return None
    out = v * factor
    # Sub-picometre or metre-sized pixels are a broken header, not a microscope.
    return out if 1e-6 <= out <= 1e6 else None


def _ome_size(xml: str) -> Optional[PixelSize]:
    """The first image's (y, x) pixel size from OME-XML text."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "Pixels":
            a = el.attrib
            y = to_um(a.get("PhysicalSizeY"), a.get("PhysicalSizeYUnit"))
            x = to_um(a.get("PhysicalSizeX"), a.get("PhysicalSizeXUnit"))
            if x is None and y is None:
                return None
            return (y or x, x or y)
    return None


def _imagej_size(page, unit: Optional[str]) -> Optional[PixelSize]:
    """(y, x) from the TIFF resolution tags and ImageJ's unit."""
    if not unit:
        return None
    sizes = []
    for tag in ("YResolution", "XResolution"):
        t = page.tags.get(tag)
        if t is None:
            return None
        num, den = t.value if isinstance(t.value, tuple) else (t.value, 1)
        if not num or not den:
            return None
        sizes.append(to_um(den / num, unit))   # the tags hold pixels per unit
    if None in sizes:
        return None
    return (sizes[0], sizes[1])


def pixel_size_um(path: Union[str, os.PathLike]) -> Optional[PixelSize]:
    """The (y, x) pixel size of an image file in µm, or None when the file does not say.

    Never raises for an unreadable file or odd metadata: a missing pixel size only
    leaves the µm columns empty.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tf:
                if tf.is_ome and tf.ome_metadata:
                    found = _ome_size(tf.ome_metadata)
                    if found:
                        return found
                page = tf.pages.first if hasattr(tf.pages, "first") else tf.pages[0]
                desc = page.description or ""
                if tf.is_imagej:
                    unit = (tf.imagej_metadata or {}).get("unit")
                    return _imagej_size(page, unit if isinstance(unit, str) else None)
                if desc.lstrip().startswith("<?xml") or "<OME" in desc[:512]:
                    return _ome_size(desc)
                # A plain TIFF with its resolution unit in centimetres (tag 296 = 3) is a calibrated scan.
                unit_tag = page.tags.get("ResolutionUnit")
                if unit_tag is not None and int(unit_tag.value) == 3:
                    return _imagej_size(page, "cm")
                return None
        from .formats import bioio_pixel_size, is_bioio_file

        if is_bioio_file(path):
            return bioio_pixel_size(path)
    except Exception:  # noqa: BLE001 - metadata is a bonus; the image is read (and reported) elsewhere
        return None
    return None


def um_per_pixel(size: Optional[PixelSize]) -> float:
    """One length per pixel for lengths (perimeter, axes): the geometric mean of y and x; NaN when unknown.

    >>> um_per_pixel((0.5, 2.0)), um_per_pixel(None) != um_per_pixel(None)
    (1.0, True)
    """
    if not size:
        return float("nan")
    return math.sqrt(size[0] * size[1])

