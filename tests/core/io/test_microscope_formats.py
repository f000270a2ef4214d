"""CZI / ND2 / LIF through bioio (the formats extra): one line without it; channels and pixel size kept with it.

No microscope file is downloaded: the bioio path is checked on an OME-TIFF the test writes (bioio-ome-tiff
reads it as bioio reads the others: scenes, TCZYX dims, physical pixel sizes).
"""
import numpy as np
import pytest
import tifffile

from ddrcore.errors import ImageReadError
from ddrcore.io.images import find_images
from ddrcore.io.reading import read_image_groups


def test_a_czi_file_is_found_and_says_which_extra_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_bioio(name, *args, **kw):
        if name == "bioio" or name.startswith("bioio."):
            raise ImportError("No module named 'bioio'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_bioio)
    f = tmp_path / "slide.czi"
    f.write_bytes(b"ZISRAWFILE" + bytes(100))
    assert find_images(tmp_path) == [f]
    with pytest.raises(ImageReadError) as e:
        read_image_groups(f)
    line = str(e.value)
    assert len(line.splitlines()) == 1 and 'pip install "ddrid[formats]"' in line and "slide.czi" in line


def test_bioio_reads_scenes_channels_and_pixel_size(tmp_path):
    pytest.importorskip("bioio")
    pytest.importorskip("bioio_ome_tiff")
    from ddrcore.io.formats import bioio_pixel_size, read_bioio_groups

    data = np.arange(2 * 3 * 32 * 40, dtype=np.uint16).reshape(2, 3, 32, 40)      # Z, C, Y, X
    p = tmp_path / "a.ome.tif"
    tifffile.imwrite(p, data, ome=True, metadata={"axes": "ZCYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    (group,) = read_bioio_groups(p)
    assert group.shape == (2, 32, 40, 3)                       # Z planes as pages, channels last
    np.testing.assert_array_equal(group[1, :, :, 2], data[1, 2])
    assert bioio_pixel_size(p) == pytest.approx((0.2, 0.2))
