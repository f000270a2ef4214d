"""Re-cut to objects: the crop follows the object size unless the user typed one (issue #24, item 1)."""
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from ddrcore.objects import Patching  # noqa: E402

pytestmark = pytest.mark.gui


def _dialog(qtbot, current):
    from ddrid_gui.dialogs.recut import RecutDialog

    d = RecutDialog(current, 32)
    qtbot.addWidget(d)
    return d


def test_switching_grid_to_objects_drops_the_tile_size(qtbot):
    d = _dialog(qtbot, Patching("grid", patch_size=32))
    assert d.values() == ("grid", None, 32)
    d.source.setCurrentIndex(d.source.findData("auto"))
    # Nothing typed: the 32 px tile must not become the objects' crop (twice the object size instead).
    assert d.values() == ("auto", None, None)
    assert d.border_policy() == "exclude"


def test_a_typed_patch_size_is_kept_and_warned_about_when_smaller_than_the_object(qtbot):
    d = _dialog(qtbot, Patching("grid", patch_size=32))
    d.source.setCurrentIndex(d.source.findData("auto"))
    d.size.setValue(85)
    d.patch.setValue(48)
    assert d.values() == ("auto", 85.0, 48)
    assert "smaller than the objects" in d.warning.text()
    d.patch.setValue(0)
    assert d.warning.text() == ""


def test_toolbar_and_recut_dialog_name_each_source_alike(qtbot):
    from ddrid_gui.document.patch_settings import SOURCE_LABELS
    from ddrid_gui.views.toolbars import PATCHING_LABELS

    d = _dialog(qtbot, None)
    in_dialog = {d.source.itemData(i): d.source.itemText(i) for i in range(d.source.count())}
    assert in_dialog == dict(PATCHING_LABELS) == SOURCE_LABELS
    assert SOURCE_LABELS["labels"] == "Objects: label images"


def test_an_estimated_size_stays_auto_so_each_image_keeps_its_own(qtbot):
    # A folder at two magnifications is cut per image around an estimated reference size.  Re-cutting only to
    # change the border policy must not send that estimate back as a typed size (every image at one size).
    d = _dialog(qtbot, Patching("auto", object_size=21.1, per_image=True))
    d.border.setCurrentIndex(d.border.findData("flag"))
    assert d.values() == ("auto", None, None)
    assert "21.1" in d.size.text()                       # the estimate is still shown
    d.patch.setValue(12)                                 # a typed crop smaller than the estimate is warned about
    assert "smaller than the objects" in d.warning.text()
    # A size the user gave (not estimated) is kept as it was.
    typed = _dialog(qtbot, Patching("auto", object_size=30.0))
    assert typed.values() == ("auto", 30.0, None)
