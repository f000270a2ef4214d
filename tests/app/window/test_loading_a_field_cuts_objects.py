"""Loading fields of view without choosing how to cut: objects where objects are found, said so (#24 item 5)."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import find  # noqa: E402

pytestmark = pytest.mark.gui


def _field(tmp_path, name="field.tif", noise=False):
    import tifffile

    from ddrcore.objects.synthetic import make_field

    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    image = ((np.indices((192, 192)).sum(0) // 8 + 100).astype(np.uint16) if noise else
             make_field((192, 192), ("blob",), n=10, size=20, seed=1).image)
    tifffile.imwrite(folder / name, image)
    return folder


def _open_mixed(win, tmp_path, wait_idle):
    """A folder of two fields at two magnifications (objects about 10 and 34 px), opened as from a drop."""
    import tifffile

    from ddrcore.objects.synthetic import make_field

    folder = tmp_path / "mixed"
    folder.mkdir()
    tifffile.imwrite(folder / "a_small.tif", make_field((256, 256), ("blob",), n=14, size=10, seed=1).image)
    tifffile.imwrite(folder / "b_large.tif", make_field((512, 512), ("blob",), n=14, size=34, seed=2).image)
    win.open_paths([str(folder)])
    wait_idle(win, timeout=60_000)


def test_a_folder_of_fields_opens_as_objects_and_says_so(win, tmp_path, wait_idle):
    folder = _field(tmp_path)
    win.open_paths([str(folder)])         # as from the command line or a drop, nothing chosen
    wait_idle(win, timeout=30_000)
    t = win.document.table
    assert t.patching.source == "auto" and 5 <= len(t) <= 14
    assert find(win, "patchingCombo").currentData() == "auto"
    assert find(win, "objectSizeSpin").value() == pytest.approx(t.patching.object_size)
    assert "objects" in find(win, "cutNoteLabel").text()
    # A new project, objects chosen now: the next folder's cut is said too (it was said only the first time).
    win.projects.new_project()
    assert find(win, "cutNoteLabel").text() == ""
    win.open_paths([str(folder)])
    wait_idle(win, timeout=30_000)
    assert find(win, "cutNoteLabel").text().startswith(f"Cut into {len(win.document.table)} objects")


def test_a_field_without_objects_falls_back_to_grid_tiles_and_says_why(win, tmp_path, wait_idle):
    folder = _field(tmp_path, noise=True)
    win.open_paths([str(folder)])
    wait_idle(win, timeout=30_000)
    t = win.document.table
    assert t.patching is None or t.patching.is_grid
    assert len(t) == 36 and "grid tiles" in find(win, "cutNoteLabel").toolTip()


def test_a_chosen_grid_is_kept(win, tmp_path, wait_idle):
    folder = _field(tmp_path)
    win.preset_patching("grid")           # ddrid-gui --objects grid
    win.open_paths([str(folder)])
    wait_idle(win, timeout=30_000)
    assert len(win.document.table) == 36 and find(win, "cutNoteLabel").text() == ""


def test_label_images_beside_the_fields_are_named_in_the_problems_when_objects_are_detected(win, tmp_path, wait_idle):
    import tifffile

    folder = _field(tmp_path)
    tifffile.imwrite(folder / "field_cp_masks.tif", np.zeros((192, 192), np.uint16))
    win.open_paths([str(folder)])
    wait_idle(win, timeout=30_000)
    assert win.document.table.patching.source == "auto"
    lines = [str(p) for p in win.document.problems]
    assert len(lines) == 1 and "field_cp_masks.tif" in lines[0] and "label image(s)" in lines[0]
    assert "field_cp_masks.tif" in find(win, "problemsList").item(0).text()


def test_a_folder_of_label_images_only_names_them_in_the_problems(win, tmp_path, wait_idle):
    import tifffile

    folder = tmp_path / "masks_only"
    folder.mkdir()
    tifffile.imwrite(folder / "a01_cp_masks.tif", np.zeros((64, 64), np.uint16))
    win.open_paths([str(folder)])
    wait_idle(win, timeout=30_000)
    lines = [str(p) for p in win.document.problems]
    assert any("a01_cp_masks.tif" in line and "label images" in line for line in lines), lines


def test_a_folder_at_two_magnifications_names_each_images_own_object_size(win, tmp_path, wait_idle):
    _open_mixed(win, tmp_path, wait_idle)
    t = win.document.table
    sides = sorted({s.size for s in t.sources})
    assert len(sides) == 2                   # each image cut at its own size ...
    label = find(win, "cutNoteLabel")
    # ... and the note says so, rather than the folder's median size that neither image was cut at:
    # the sizes on the view row, each image's size and crop in its tooltip.
    shown = f"object size per image {', '.join(f'{side / 2:g}' for side in sides)} px"
    assert shown in label.text(), label.text()
    assert all(f"{side / 2:g} px (1 image)" in label.toolTip() for side in sides), label.toolTip()
    assert f"{t.patching.object_size:g} px" not in label.text() + label.toolTip()
    # The greyed boxes say "per image", not the folder's median size and crop that no image was cut at.
    assert find(win, "objectSizeSpin").text() == find(win, "patchSizeBox").text() == "per image"


def test_recutting_a_folder_at_two_magnifications_keeps_each_images_own_size(win, tmp_path, wait_idle):
    from ddrid_gui.dialogs.recut import RecutDialog

    _open_mixed(win, tmp_path, wait_idle)
    before = sorted({s.size for s in win.document.table.sources})
    # Re-cut to flag border objects, the object size left as the dialog offers it.
    dialog = RecutDialog(win.document.table.patching, win.document.table.patch_size)
    dialog.border.setCurrentIndex(dialog.border.findData("flag"))
    assert win.loader.recut(*dialog.values(), border=dialog.border_policy())
    wait_idle(win, timeout=60_000)
    assert win.document.table.patching.border == "flag"
    assert sorted({s.size for s in win.document.table.sources}) == before, "one size for both images"
    # The view row still says so after the re-cut (it used to go blank).
    label = find(win, "cutNoteLabel")
    assert f"object size per image {', '.join(f'{side / 2:g}' for side in before)} px" in label.text(), label.text()


def test_recutting_tiles_into_objects_of_an_estimated_size(win, tmp_path, wait_idle):
    # The Re-cut dialog offers "auto" for the object size when the patches were tiles; that used to stop at
    # "the object size is not known yet" before anything was read.
    from ddrid_gui.dialogs.recut import RecutDialog

    folder = _field(tmp_path)
    win.preset_patching("grid")
    win.open_paths([str(folder)])
    wait_idle(win, timeout=30_000)
    assert len(win.document.table) == 36
    dialog = RecutDialog(win.document.table.patching, win.document.table.patch_size)
    dialog.source.setCurrentIndex(dialog.source.findData("auto"))
    assert dialog.values() == ("auto", None, None)
    assert win.loader.recut(*dialog.values(), border=dialog.border_policy())
    wait_idle(win, timeout=30_000)
    t = win.document.table
    assert t.patching.source == "auto" and t.patching.object_size and 5 <= len(t) <= 14
    assert f"Cut into {len(t)} objects" in find(win, "cutNoteLabel").text()
    # Back to tiles: no note about objects is left standing.
    assert win.loader.recut("grid", patch_size=32)
    wait_idle(win, timeout=30_000)
    assert len(win.document.table) == 36 and "objects" not in find(win, "cutNoteLabel").text()
    # To objects at a size given: the note says that size.
    assert win.loader.recut("auto", object_size=21.0)
    wait_idle(win, timeout=30_000)
    assert "object size 21 px" in find(win, "cutNoteLabel").text(), find(win, "cutNoteLabel").text()


def test_the_recut_menu_offers_each_images_own_size_and_keeps_it(win, tmp_path, wait_idle, monkeypatch):
    # Annotate ▸ Re-cut Patches… accepted as offered: the same cut again, each image at its own size.
    from PySide6.QtWidgets import QDialog

    from ddrid_gui.dialogs.recut import RecutDialog

    _open_mixed(win, tmp_path, wait_idle)
    before = sorted({s.size for s in win.document.table.sources})
    offered = []

    def accept(dialog):
        offered.append(dialog.size.text())
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(RecutDialog, "exec", accept)
    win.loader.ask_recut()
    wait_idle(win, timeout=60_000)
    assert offered and "per image" in offered[0] and all(f"{s / 2:g}" in offered[0] for s in before), offered
    assert sorted({s.size for s in win.document.table.sources}) == before
