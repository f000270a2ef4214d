"""Pixel sizes from the file's own metadata (OME-XML, ImageJ), and the µm columns they give."""
import csv

import numpy as np
import pytest
import tifffile

from ddrcore.cli import main
from ddrcore.io.export import MICRON_COLUMNS
from ddrcore.io.metadata import pixel_size_um
from ddrcore.objects.synthetic import make_field


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_ome_tiff_physical_size(tmp_path):
    p = tmp_path / "a.ome.tif"
    tifffile.imwrite(p, np.zeros((16, 16), np.uint16), ome=True,
                     metadata={"PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325, "PhysicalSizeXUnit": "µm",
                               "PhysicalSizeYUnit": "µm"})
    assert pixel_size_um(p) == pytest.approx((0.325, 0.325))


def test_ome_tiff_in_nanometres(tmp_path):
    p = tmp_path / "a.ome.tif"
    tifffile.imwrite(p, np.zeros((16, 16), np.uint16), ome=True,
                     metadata={"PhysicalSizeX": 650, "PhysicalSizeY": 650, "PhysicalSizeXUnit": "nm",
                               "PhysicalSizeYUnit": "nm"})
    assert pixel_size_um(p) == pytest.approx((0.65, 0.65))


def test_imagej_resolution_and_unit(tmp_path):
    p = tmp_path / "a.tif"
    tifffile.imwrite(p, np.zeros((16, 16), np.uint16), imagej=True, resolution=(1 / 0.2, 1 / 0.4),
                     metadata={"unit": "micron", "spacing": 2.0})
    assert pixel_size_um(p) == pytest.approx((0.4, 0.2), rel=1e-4)


@pytest.mark.parametrize("writer", ["plain", "png", "inch"])
def test_no_pixel_size_where_the_file_does_not_say(tmp_path, writer):
    img = np.zeros((16, 16), np.uint8)
    if writer == "png":
        p = tmp_path / "a.png"
        __import__("imageio").v3.imwrite(p, img)
    else:
        p = tmp_path / "a.tif"
        tifffile.imwrite(p, img, resolution=(300, 300) if writer == "inch" else None)
    assert pixel_size_um(p) is None


def test_an_ome_tiff_with_a_pixel_size_gives_micron_columns(tmp_path):
    f = make_field((96, 96), ("blob",), n=5, size=14, seed=2)
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    tifffile.imwrite(tmp_path / "with" / "a.ome.tif", f.image, ome=True,
                     metadata={"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    tifffile.imwrite(tmp_path / "without" / "a.tif", f.image)
    for folder in ("with", "without"):
        assert main(["--quiet", "objects", str(tmp_path / folder), "--object-size", "14",
                     "--csv", str(tmp_path / f"{folder}.csv")]) == 0
    got, plain = rows(tmp_path / "with.csv"), rows(tmp_path / "without.csv")
    assert set(MICRON_COLUMNS) <= set(got[0]) and len(got) == len(plain) > 0
    for r in got:
        assert float(r["pixel_size_um"]) == 0.5
        assert float(r["area_um2"]) == pytest.approx(float(r["area"]) * 0.25, rel=1e-5)
        assert float(r["perimeter_um"]) == pytest.approx(float(r["perimeter"]) * 0.5, rel=1e-5)
        assert float(r["axis_major_length_um"]) == pytest.approx(float(r["axis_major_length"]) * 0.5, rel=1e-5)
    assert all(r[c] == "" for r in plain for c in MICRON_COLUMNS)
