"""Object patches cut from in-memory arrays (a viewer's layers) match those cut from files."""
import numpy as np
import pytest
import tifffile

from ddrcore.errors import DdridError, ImageReadError
from ddrcore.io.images import load_patches, patches_from_array
from ddrcore.objects import Patching, diameter_of, objects_in_array
from ddrcore.objects.synthetic import make_field
from ddrcore.progress import run_to_end


@pytest.fixture(scope="module")
def field():
    return make_field((192, 192), ("blob",), n=12, size=20, seed=7)


def test_labels_in_memory_give_the_patches_a_file_gives(tmp_path, field):
    # The same page and labels, once as files (the CLI's path) and once as arrays (napari's).
    tifffile.imwrite(tmp_path / "a.tif", field.image)
    tifffile.imwrite(tmp_path / "a_masks.tif", field.labels)
    from_file = run_to_end(load_patches(tmp_path / "a.tif", patching=Patching("labels")))
    objects, patching = objects_in_array(field.image, Patching("labels"), labels=field.labels)
    in_memory = patches_from_array(field.image, objects, patching, name="layer")
    assert patching.object_size == from_file.patching.object_size
    assert [s.object_id for s in in_memory.sources] == [s.object_id for s in from_file.sources]
    np.testing.assert_allclose(in_memory.images, from_file.images)
    assert in_memory.sources[0].measurements == from_file.sources[0].measurements
    assert in_memory.sources[0].path == "layer"


def test_detection_settles_the_object_size_and_gives_a_label_image(field):
    objects, patching = objects_in_array(field.image, Patching("auto"))
    assert 14 <= patching.object_size <= 26
    assert objects.labels is not None and objects.labels.shape == field.image.shape
    patches = patches_from_array(field.image, objects, patching)
    assert len(patches) >= 8 and patches.images.shape[-1] == 64


def test_points_keep_their_row_numbers_as_ids(field):
    pts = np.vstack([field.centers[:3], [[-5.0, 10.0]], field.centers[3:5]])    # row 3 lies outside the page
    objects, patching = objects_in_array(field.image, Patching("points", object_size=20), points=pts)
    assert objects.ids.tolist() == [1, 2, 3, 5, 6]
    patches = patches_from_array(field.image, objects, patching)
    assert {s.object_id for s in patches.sources} <= {1, 2, 3, 5, 6}
    assert all(s.measurements == () for s in patches.sources)      # points have no extent


def test_points_without_a_size_take_the_page_estimate(field):
    _objects, patching = objects_in_array(field.image, Patching("points"), points=field.centers)
    assert 14 <= patching.object_size <= 26


def test_bad_arrays_are_refused_in_one_line(field):
    with pytest.raises(DdridError, match="label image is 10 x 10"):
        objects_in_array(field.image, Patching("labels"), labels=np.zeros((10, 10), int))
    with pytest.raises(DdridError, match="object size"):
        objects_in_array(field.image, Patching("labels"), labels=np.zeros_like(field.labels))
    objects, patching = objects_in_array(field.image, Patching("labels"), labels=field.labels)
    with pytest.raises(ImageReadError, match="constant"):
        patches_from_array(np.full((192, 192), 7, np.uint16), objects, patching)
    with pytest.raises(ValueError, match="grid"):
        objects_in_array(field.image, Patching("grid"))


def test_diameter_of_a_disc():
    assert diameter_of([np.pi * 100]) == pytest.approx(20.0)
