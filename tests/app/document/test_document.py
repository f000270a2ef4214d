"""The document model without a window: marks and their undo, scores, threshold, roles, loads, events.

No qtbot here: ddrid_gui.document imports no Qt, and its events are plain psygnal signals.
"""
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("psygnal")

from ddrid_gui.document import Document, PatchSettings, carried_marks  # noqa: E402
from ddrid_gui.jobs.tasks import LoadResult  # noqa: E402
from ddrid_gui.document import EXCLUDED, NORMAL, UNMARKED  # noqa: E402
from ddrcore.io.images import BadFile, PatchSet, PatchSource  # noqa: E402
from ddrcore.model.scoring import Scores  # noqa: E402


def patches(n=6, folder="/data/a", start=0):
    """``n`` 8 px patches, two files of ``folder`` alternating."""
    images = np.random.default_rng(start).normal(100, 10, (n, 1, 8, 8)).astype(np.float32)
    sources = [PatchSource(f"{folder}/f{i % 2}.tif", 0, 8 * (start + i), 0) for i in range(n)]
    return PatchSet(images=images, sources=sources, bad=[])


def loaded(n=6):
    doc = Document()
    doc.add_loaded(LoadResult(["/data/a"], patches(n)))
    return doc


class Recorder:
    """Every event of a document, in order: (name, args)."""

    NAMES = ("table_replaced", "patches_added", "marks_changed", "scores_changed", "threshold_changed",
             "model_changed", "settings_changed", "problems_added", "problems_cleared", "history_changed",
             "path_changed")

    def __init__(self, doc):
        self.events = []
        for name in self.NAMES:
            getattr(doc, name).connect(lambda *args, name=name: self.events.append((name, args)))

    def names(self):
        return [name for name, _ in self.events]


def scores(values):
    values = np.asarray(values, np.float32)
    return Scores(latent=values, recon=values * 2, score_type="latent", threshold=float("inf"))


def test_the_document_imports_no_qt():
    code = "import sys, ddrid_gui.document; print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'PyQt'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_marking_emits_one_event_and_counts_follow():
    doc = loaded()
    rec = Recorder(doc)
    assert doc.mark([0, 2], NORMAL)
    assert rec.names() == ["marks_changed", "history_changed"]
    np.testing.assert_array_equal(rec.events[0][1][0], [0, 2])
    c = doc.counts()
    assert (c["total"], c["normal"], c["excluded"]) == (6, 2, 0)
    assert doc.history.undo_text == "mark 2 patches normal"
    # Nothing selected: no edit, no event.
    rec.events.clear()
    assert not doc.mark([], EXCLUDED)
    assert rec.events == [] and doc.history.undo_text == "mark 2 patches normal"


def test_undo_restores_each_patch_and_redo_reapplies():
    doc = loaded()
    doc.mark([0, 1], NORMAL)
    doc.mark([1, 2], EXCLUDED)
    rec = Recorder(doc)
    doc.undo()
    assert list(doc.table.marks[:3]) == [NORMAL, NORMAL, UNMARKED]   # patch 1 back to normal, not unmarked
    assert rec.names() == ["marks_changed", "history_changed"]
    assert doc.history.redo_text == "mark 2 patches excluded"
    doc.undo()
    assert not doc.table.marks.any()
    doc.undo()                                  # nothing left: no event
    assert len(rec.events) == 4
    doc.redo()
    doc.redo()
    assert list(doc.table.marks[:3]) == [NORMAL, EXCLUDED, EXCLUDED]
    assert doc.history.redo_text == ""


def test_saved_state_follows_undo():
    doc = loaded()
    assert doc.history.is_clean
    doc.mark([0], NORMAL)
    assert not doc.history.is_clean
    doc.set_clean()
    doc.mark([1], NORMAL)
    assert not doc.history.is_clean
    doc.undo()
    assert doc.history.is_clean                  # back where it was saved
    doc.undo()
    doc.mark([3], EXCLUDED)                      # the saved state can no longer be reached
    assert not doc.history.is_clean


def test_whole_files_and_folders():
    doc = Document()
    doc.add_loaded(LoadResult(["/data"], patches(4, "/data/a")))
    doc.add_loaded(LoadResult(["/data"], patches(4, "/data/b", start=4)))
    doc.mark_files([0])                          # /data/a/f0.tif: patches 0 and 2
    np.testing.assert_array_equal(doc.normal_indices(), [0, 2])
    assert doc.history.undo_text == "mark 2 patches normal (whole file)"
    doc.mark_folders([5])                        # everything in /data/b
    np.testing.assert_array_equal(doc.normal_indices(), [0, 2, 4, 5, 6, 7])
    assert doc.history.undo_text.endswith("(folder b)")


def test_threshold_change_emits_and_flags():
    doc = loaded()
    doc.set_scores(np.arange(6), scores([0, 1, 2, 3, 4, 5]))
    rec = Recorder(doc)
    doc.set_threshold(3.0)
    assert rec.events == [("threshold_changed", (3.0,))]
    c = doc.counts()
    assert (c["flagged"], c["scored"]) == (3, 6)
    doc.mark([5], EXCLUDED)                      # excluded patches are never flagged
    assert doc.counts()["flagged"] == 2
    np.testing.assert_array_equal(doc.view_order("score", "flagged"), [4, 3])


def test_new_scores_keep_the_threshold():
    doc = loaded()
    assert doc.threshold is None
    doc.pending_threshold = 2.5                  # a reopened project's threshold
    rec = Recorder(doc)
    doc.set_scores([0, 1, 2], scores([1, 2, 3]))
    assert rec.names() == ["scores_changed"]
    assert doc.threshold == 2.5 and doc.pending_threshold is None
    doc.set_threshold(1.5)
    doc.set_scores([3, 4, 5], scores([4, 5, 6]))   # patches added later: the user's threshold stays
    assert doc.threshold == 1.5
    assert not np.isnan(doc.table.score).any()


def test_a_trained_model_clears_scores_and_leaves_its_patches_out():
    doc = loaded()
    doc.set_scores(np.arange(6), scores(np.arange(6)))
    doc.set_threshold(2.0)
    doc.mark([0, 1, 2], NORMAL)
    rec = Recorder(doc)
    model = object()
    doc.set_trained(model, "/m.ddrid", [0, 1, 2], [2])
    assert rec.names() == ["model_changed", "scores_changed"]
    assert doc.model is model and doc.model_path == "/m.ddrid"
    assert doc.table.score is None and doc.threshold is None and not doc.scored
    assert doc.table.roles() == ["train", "train", "validation", "unmarked", "unmarked", "unmarked"]
    doc.set_scores(np.arange(6), scores(np.arange(6)))
    assert doc.scored
    np.testing.assert_array_equal(doc.view_order("score", "all"), [5, 4, 3])
    assert doc.counts()["hidden"] == 3
    rec.events.clear()
    doc.set_include_training(True)
    assert rec.names() == ["scores_changed"]
    assert len(doc.view_order("score", "all")) == 6 and doc.counts()["hidden"] == 0


def test_a_load_applies_waiting_marks_once_and_reports_problems():
    doc = Document()
    first = patches(4)
    doc.pending_marks = {first.sources[1]: "normal", PatchSource("/elsewhere.tif", 0, 0, 0): "excluded"}
    rec = Recorder(doc)
    bad = BadFile("/data/a/broken.tif", "not a readable image")
    added = doc.add_loaded(LoadResult(["/data/a"], first, [bad]))
    np.testing.assert_array_equal(added.new, [0, 1, 2, 3])
    assert rec.names() == ["problems_added", "patches_added"]
    assert doc.problems == [bad]
    assert list(doc.table.marks) == [UNMARKED, NORMAL, UNMARKED, UNMARKED]
    assert list(doc.pending_marks) == [PatchSource("/elsewhere.tif", 0, 0, 0)]   # still waiting for its file
    # The same patches again: nothing new, the user's later unmark stands.
    doc.mark([1], UNMARKED)
    added = doc.add_loaded(LoadResult(["/data/a"], first))
    assert len(added.new) == 0 and not doc.table.marks.any()
    doc.clear_problems()
    assert doc.problems == []


def test_reset_starts_an_empty_project_with_the_settings():
    doc = loaded()
    doc.mark([0], NORMAL)
    doc.set_project_path("/p.ddridproj")
    doc.set_patch_settings(patch_size=16, channel=1)
    assert doc.table.patch_size == 32            # a loaded table keeps its size
    rec = Recorder(doc)
    doc.reset()
    assert {"table_replaced", "model_changed", "path_changed", "history_changed"} <= set(rec.names())
    assert len(doc) == 0 and doc.project_path is None and doc.history.undo_text == ""
    assert (doc.table.patch_size, doc.table.channel) == (16, 1)


def test_patch_settings():
    assert PatchSettings(patch_size=24).patching().crop_side() == 24
    with pytest.raises(ValueError):
        PatchSettings(source="points").patching()           # no CSV of centres
    p = PatchSettings(source="points", points="/c.csv", patch_size=40).patching()
    assert p.crop_side() == 40                                # no object size: the patch size is the crop
    p = PatchSettings(source="auto", object_size=12).patching()
    assert (p.source, p.object_size, p.crop_side()) == ("auto", 12, 24)


def test_recut_marks_follow_the_objects():
    old = [PatchSource("/f.tif", 0, 0, 0, center_y=16, center_x=16, size=32),
           PatchSource("/f.tif", 0, 0, 32, center_y=16, center_x=48, size=32)]
    new = [PatchSource("/f.tif", 0, 2, 33, center_y=16, center_x=47, size=28),
           PatchSource("/f.tif", 0, 86, 86, center_y=100, center_x=100, size=28)]
    # The first new crop is centred 1 px from the second old one: it takes its mark; the other is far from both.
    assert carried_marks(old, np.array([UNMARKED, NORMAL]), new) == {0: NORMAL}


def test_a_kept_mark_without_a_centre_does_not_hide_the_marks_beside_it():
    """A mark read back from a project file knows only its crop's origin (centre NaN); the nearest-centre
    search took that NaN as nearest and carried no mark of its page."""
    kept = PatchSource("a.tif", 0, 0, 0)                                  # no centre
    old = [kept, PatchSource("a.tif", 0, 40, 40, center_y=48.0, center_x=48.0, size=16)]
    new = [PatchSource("a.tif", 0, 38, 38, center_y=47.0, center_x=48.0, size=20)]
    assert carried_marks(old, np.array([NORMAL, NORMAL]), new) == {0: NORMAL}


def _objects_and_tiles(path="/data/a/f.tif"):
    """Three object crops (20 px) and the four 64 px tiles of the same 128 px page."""
    objects = [PatchSource(path, 0, cy - 10, cx - 10, object_id=k + 1, center_y=cy, center_x=cx, size=20)
               for k, (cy, cx) in enumerate([(12, 50), (50, 12), (100, 110)])]
    tiles = [PatchSource(path, 0, y, x, object_id=k + 1, center_y=y + 32, center_x=x + 32, size=64)
             for k, (y, x) in enumerate([(0, 0), (0, 64), (64, 0), (64, 64)])]
    return (PatchSet(np.ones((3, 1, 8, 8), np.float32), objects, []),
            PatchSet(np.ones((4, 1, 8, 8), np.float32), tiles, []))


def test_marks_kept_from_a_re_cut_stay_in_the_session_and_a_projects_kept_marks_are_saved():
    """A re-cut's kept mark, saved and read back without its centre, could no longer be forgotten when the user
    marked over it: an object the user then excluded came back normal after save, reopen and re-cut."""
    from ddrid_gui.document.table import PatchTable

    objects, tiles = _objects_and_tiles()
    doc = Document()
    doc.add_loaded(LoadResult(["/data/a"], objects))
    doc.mark([0], NORMAL)
    doc.start_recut(PatchTable(8, None))
    doc.add_loaded(LoadResult(["/data/a"], tiles))
    assert len(doc.unplaced_marks) == 1 and doc.to_project({}).marks == {}      # session only
    # A reopened project's mark whose patch is not there: kept, saved, carried through a re-cut, applied when
    # its very patch is back.
    gone = PatchSource("/data/a/f.tif", 0, 40, 40)
    doc2 = Document()
    doc2.pending_marks = {gone: "excluded"}
    doc2.add_loaded(LoadResult(["/data/a"], tiles))
    assert doc2.settle_pending_marks() == 1 and doc2.kept_marks == [(gone, EXCLUDED)]
    doc2.start_recut(PatchTable(8, None))
    doc2.add_loaded(LoadResult(["/data/a"], objects))
    assert doc2.kept_marks == [(gone, EXCLUDED)] and doc2.unplaced_marks == []
    assert doc2.to_project({}).marks == {gone: "excluded"}
    back = PatchSet(np.ones((1, 1, 8, 8), np.float32), [PatchSource("/data/a/f.tif", 0, 40, 40, center_y=50.0,
                                                                    center_x=50.0, size=20)], [])
    doc2.add_loaded(LoadResult(["/data/a"], back))
    assert doc2.kept_marks == [] and doc2.table.marks[-1] == EXCLUDED


def test_a_tile_sharing_a_re_cut_objects_corner_does_not_take_its_mark():
    """A mark kept from a re-cut was also placed on any new patch with the same crop corner: a 64 px tile at
    (0, 0) took the mark of a 20 px object crop at (0, 0) whose object lies elsewhere in the tile."""
    from ddrid_gui.document.table import PatchTable

    obj = PatchSource("/data/a/f.tif", 0, 0, 0, object_id=1, center_y=10.0, center_x=10.0, size=20)
    tiles = [PatchSource("/data/a/f.tif", 0, y, x, object_id=k + 1, center_y=y + 32.0, center_x=x + 32.0, size=64)
             for k, (y, x) in enumerate([(0, 0), (0, 64)])]
    doc = Document()
    doc.add_loaded(LoadResult(["/data/a"], PatchSet(np.ones((1, 1, 8, 8), np.float32), [obj], [])))
    doc.mark([0], EXCLUDED)
    doc.start_recut(PatchTable(8, None))
    doc.add_loaded(LoadResult(["/data/a"], PatchSet(np.ones((2, 1, 8, 8), np.float32), tiles, [])))
    assert doc.table.marks.tolist() == [UNMARKED, UNMARKED] and len(doc.unplaced_marks) == 1
