"""Opening images: folders, files, drops, the demo data, and re-cutting what is loaded.

Loads run as jobs (ddrid_gui.jobs.tasks.load_inputs) with their completion handler; the
document takes the result and its events update the views.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from ddrcore.base import default_input_size
from ddrcore.io import project as projectfile
from ddrcore.io.images import BadFile
from ddrcore.objects import Patching
from ddrcore.objects.patching import sizes_in_words
from ddrcore.pipeline import bundled_demo_dir

from .controller import Controller
from . import tasks as jobs
from .. import settings as appsettings
from ..document.document import Document
from ..document.table import PatchTable

IMAGE_FILTER = "Images (*.tif *.tiff *.png *.jpg *.jpeg);;All files (*)"


class Loader(Controller):
    """Starts loads and takes their results into the document.

    ``window`` provides ``runner``, ``patch_bar``, ``projects``, ``gallery``, ``notify(text, ms)``,
    ``show_gallery()``, ``after_dialog()``, ``start_dir()`` and ``update_enabled()``.
    """

    def __init__(self, window, document: Document):
        super().__init__(window)
        self.doc = document
        self.runner = window.runner
        # Once the last queued load has ended (done, failed or cancelled), a reopened project's marks that
        # found no patch stop waiting for one (Document.settle_pending_marks).
        self.runner.succeeded.connect(lambda kind, _result: self._load_ended(kind))
        self.runner.failed.connect(lambda job, _message, _detail: self._load_ended(job.kind))
        self.runner.cancelled.connect(self._load_ended)

    def _load_ended(self, kind: str) -> None:
        if kind == "load" and "load" not in self.runner.pending:
            self.doc.settle_pending_marks()


    def open_paths(self, paths: Sequence[str]) -> None:
        """Open projects, folders and image files (command line, drops)."""
        projects = [p for p in paths if str(p).lower().endswith(projectfile.SUFFIX)]
        images = [p for p in paths if p not in projects]
        if projects:
            self.window.projects.open_project(projects[0])
            self.doc.add_problems([BadFile(extra, "only one project can be open at a time; open it separately")
                                   for extra in projects[1:]])
        if images:
            self.load_inputs(images)

    def load_inputs(self, paths: Sequence[str], mark_normal_under: Sequence[str] = (), cache: Optional[tuple] = None
                    ) -> None:
        """Load folders and files (after the running job, if any).

        ``cache`` (cache file, fingerprint): a reopened project's saved patches and scores, used instead of
        reading the images when they still match (ddrcore.io.patchcache).
        """
        t = self.doc.table
        paths = [os.path.abspath(p) for p in paths]
        size, channel = t.patch_size, t.channel
        # Files whose channel count differs from the project's are reported, not loaded.
        expected = None if t.images is None else int(t.images.shape[1])
        # Once patches are loaded, more inputs are cut exactly like them (object size settled).
        patching = t.patching if t.patching is not None else self.chosen_patching()
        if patching is None:
            return
        # Nothing chosen yet (a first folder, from the menu, a drop or the command line): fields of view are
        # cut into their objects when objects are found; 3,360 grid tiles of five fields hid the nuclei.
        s = self.doc.patch_settings
        objects_first = None
        if len(t) == 0 and t.patching is None and not s.chosen and s.source == "grid" and not mark_normal_under:
            objects_first = Patching("auto", object_size=s.object_size, border=s.border)
        try:
            # The network input side follows the crop side (the CLI's rule); unknown until an object size is estimated.
            input_size = default_input_size(patching.crop_side())
        except ValueError:
            input_size = None
        if self.doc.model is not None and len(t) == 0:
            # An opened model scores these patches: they are resized to its input, whatever it was trained with.
            input_size = int(self.doc.model.input_size)
        self.window.show_gallery()
        if self.runner.busy:
            self.window.notify(f"Loading {len(paths)} input(s) after the current job", 5000)
        if cache is not None:
            self.runner.submit("load", lambda: jobs.load_cached(cache, paths, size, input_size, channel, expected,
                                                                patching),
                               title="Loading", on_done=self._loaded, show_message=True)
        else:
            self.runner.submit("load", lambda: jobs.load_inputs(paths, size, input_size, channel, mark_normal_under,
                                                                expected, patching, objects_first),
                               title="Loading", on_done=self._loaded, show_message=True)
        self.window.update_enabled()   # a queued load already fixes the patch settings

    def _loaded(self, result: jobs.LoadResult) -> None:
        added = self.doc.add_loaded(result)
        if added.carried is not None:
            self.window.notify(f"Re-cut: {len(added.new)} patches, {added.carried} marks carried over", 8000)
        if result.patches is not None:
            n, k = len(added.new), len(result.inputs)
            self.window.notify(f"Loaded {n} new patch{'es' if n != 1 else ''} from {k} "
                               f"input{'s' if k != 1 else ''}", 5000)
        if len(self.doc):
            self.window.show_gallery()
            gallery = self.window.gallery
            if gallery.current_patch() < 0 and gallery.model().rowCount():
                gallery.setCurrentIndex(gallery.model().index(0))
        if result.note:
            # How the app chose to cut: in the status bar, and kept beside the patch toolbar's choices.
            self.window.notify(result.note, 15000)
            self.window.view_bar.show_note(result.note)
        elif added.carried is not None or (len(added.new) and len(added.new) == len(self.doc)):
            # A re-cut, or the first patches of a project cut as the user chose (no note of the app's own
            # choice; said only on the very first load before): the note describes the cut now shown (each
            # image's own size where they differ), and says nothing of objects once the patches are tiles.
            t = self.doc.table
            objects = len(t) and t.patching is not None and not t.patching.is_grid and t.patching.object_size
            self.window.view_bar.show_note(jobs.cut_note(t) if objects else "")

    def open_demo(self) -> None:
        """The bundled demo data: its training normals are marked, so Train can be pressed at once."""
        demo = bundled_demo_dir()
        normal, test = demo / "train" / "normal", demo / "test"
        if not normal.is_dir():
            QMessageBox.warning(self.window, "ddrid", f"The demo data is not where it should be ({demo}); "
                                                      "reinstall ddrid or open your own folder.")
            return
        self.load_inputs([str(normal), str(test)], mark_normal_under=[str(normal)])

    def ask_open_folder(self) -> None:
        """File ▸ Open Folder…: load every image in a folder."""
        folder = QFileDialog.getExistingDirectory(self.window, "Open folder of images", self.window.start_dir())
        self.window.after_dialog()
        if folder:
            appsettings.put("lastDir", folder)
            self.load_inputs([folder])

    def ask_open_files(self) -> None:
        """File ▸ Open Files…: load image files."""
        files, _ = QFileDialog.getOpenFileNames(self.window, "Open images", self.window.start_dir(), IMAGE_FILTER)
        self.window.after_dialog()
        if files:
            appsettings.put("lastDir", str(Path(files[0]).parent))
            self.load_inputs(files)

    # ----------------------------------------------------------- patching --
    def chosen_patching(self) -> Optional[Patching]:
        """The toolbar's patch-source choice as a Patching; None (with a problem listed) when incomplete."""
        if self.doc.patch_settings.source == "points" and not self.doc.patch_settings.points:
            self.window.patch_bar.ask_points_file()
        s = self.doc.patch_settings
        try:
            return s.patching()
        except ValueError as exc:
            where = "points" if s.source == "points" and not s.points else "patch source"
            self.doc.add_problems([BadFile(where, str(exc))])
            return None

    def ask_recut(self) -> None:
        """Annotate ▸ Re-cut Patches…: the same inputs, cut with other settings."""
        from ..dialogs.recut import RecutDialog

        if self.runner.busy or not len(self.doc):
            return
        t = self.doc.table
        words = sizes_in_words(t.patching, t.sources, brief=True) if t.is_objects and t.patching.object_size else ""
        dialog = RecutDialog(t.patching, t.patch_size, self.window, estimated=words)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.recut(*dialog.values(), border=dialog.border_policy())

    def recut(self, source: str, object_size: Optional[float] = None, patch_size: Optional[int] = None,
              border: Optional[str] = None) -> bool:
        """Cut the loaded inputs again (grid, auto, labels or points); marks follow the objects they were on.

        For objects ``patch_size`` None means twice the object size (estimated when not given).
        """
        if self.runner.busy or not len(self.doc):
            return False
        old = self.doc.table
        self.window.patch_bar.preset(source, object_size or 0)
        # Said to the document too: a box already showing 0 ("auto", "per image") emits no change.
        self.doc.set_patch_settings(object_size=object_size or None)
        if border is not None:
            self.doc.set_patch_settings(border=border)
        s = self.doc.patch_settings
        patching = Patching(source, patch_size=patch_size, object_size=object_size,
                            labels_dir=s.labels_dir if source == "labels" else None,
                            points=s.points if source == "points" else None, border=s.border)
        if source == "points" and not patching.points:
            patching = self.chosen_patching()      # asks for the CSV
            if patching is None:
                return False
        try:
            patching.validate()
        except ValueError as exc:
            self.doc.add_problems([BadFile("patch source", str(exc))])
            return False
        table = PatchTable(patch_size=patching.crop_side() if patching.is_grid or patch_size else old.patch_size,
                           channel=old.channel)
        if patching.is_grid or patching.object_size is not None or patching.patch_size is not None:
            table.set_patching(patching)
        # else the size is estimated when the images are read (per image), from the patch settings set above
        inputs = list(old.inputs)
        self.doc.start_recut(table)
        self.load_inputs(inputs)
        return True

    def recut_as(self, patching: Patching, channel=None) -> bool:
        """Cut the loaded inputs again exactly as ``patching`` says (an opened model's settings); queued after
        the running job.  Marks follow their objects; the model stays and scores the new patches."""
        if not len(self.doc):
            return False
        old = self.doc.table
        changes = dict(source=patching.source, patch_size=patching.crop_side(), channel=channel)
        if not patching.is_grid:
            changes["object_size"] = patching.object_size
        self.doc.set_patch_settings(**changes)
        table = PatchTable(patch_size=patching.crop_side(), channel=channel)
        table.set_patching(patching)
        inputs = list(old.inputs)
        self.doc.start_recut(table)
        self.load_inputs(inputs)
        return True
