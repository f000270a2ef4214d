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
