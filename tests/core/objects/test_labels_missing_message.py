"""`--objects labels` with no label image paired says so (issue #24, item 13)."""
import numpy as np
import pytest

from ddrcore.errors import DdridError
from ddrcore.objects import ObjectContext, Patching
from ddrcore.progress import run_to_end


def test_no_label_image_found_is_said_plainly(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "field.tif", np.zeros((64, 64), np.uint16))
    ctx = ObjectContext(Patching("labels"))
    with pytest.raises(DdridError, match="no label image found beside the images for field.tif"):
        run_to_end(ctx.resolve([tmp_path / "field.tif"]))
