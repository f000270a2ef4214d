"""Project files: round trip, relative paths, and refusal of broken files."""
import json
import os

import pytest

from ddrcore.io import project as pj
from ddrcore.io.images import PatchSource


def _sample(tmp_path):
    data = tmp_path / "data"
    img = str(data / "a" / "img.tif")
    return pj.Project(
        inputs=[str(data / "a"), str(data / "b.tif")],
        patch_size=64,
        channel=1,
        marks={PatchSource(img, 0, 0, 32): "normal", PatchSource(img, 2, 32, 0): "excluded",
               PatchSource(str(data / "b.tif"), 0, 0, 0): "normal"},
        model_path=str(tmp_path / "proj" / "proj.ddrid"),
        threshold=1.25,
        training={"pretrain_epochs": 3, "lr": 1e-4},
    )


def test_round_trip(tmp_path):
    proj = _sample(tmp_path)
    path = pj.save(proj, tmp_path / "proj" / "p.ddridproj")
    back = pj.load(path)
    assert back == proj


def test_paths_are_relative_and_readable(tmp_path):
    path = pj.save(_sample(tmp_path), tmp_path / "proj" / "p.ddridproj")
    doc = json.loads(path.read_text())
    assert doc["format"] == "ddrid-project"
    assert doc["inputs"] == ["../data/a", "../data/b.tif"]
    assert doc["model"] == "proj.ddrid"
    entry = next(e for e in doc["annotations"] if e["path"] == "../data/a/img.tif")
    assert entry["normal"] == [[0, 0, 32]] and entry["excluded"] == [[2, 32, 0]]


def test_project_folder_can_move(tmp_path):
    proj = _sample(tmp_path)
    pj.save(proj, tmp_path / "proj" / "p.ddridproj")
    os.rename(tmp_path, tmp_path.parent / (tmp_path.name + "_moved"))
    moved = tmp_path.parent / (tmp_path.name + "_moved")
    back = pj.load(moved / "proj" / "p.ddridproj")
    assert back.inputs[0] == os.path.normpath(moved / "data" / "a")
    assert PatchSource(os.path.normpath(moved / "data" / "a" / "img.tif"), 0, 0, 32) in back.marks


def test_the_labels_folder_and_points_file_move_with_the_project_and_are_shown_when_outside(tmp_path):
    """They were stored as absolute paths (a moved project read the old place) and never listed among the
    paths outside the project's folder (a shared project could read labels from anywhere unannounced)."""
    proj = pj.Project(inputs=[str(tmp_path / "data")],
                      training={"patching": {"source": "labels", "labels_dir": str(tmp_path / "data" / "labels"),
                                             "points": str(tmp_path / "data" / "points.csv")}})
    path = pj.save(proj, tmp_path / "p.ddridproj")
    stored = json.loads(path.read_text())["training"]["patching"]
    assert stored["labels_dir"] == "data/labels" and stored["points"] == "data/points.csv"
    os.rename(tmp_path, tmp_path.parent / (tmp_path.name + "_moved"))
    moved = tmp_path.parent / (tmp_path.name + "_moved")
    back = pj.load(moved / "p.ddridproj")
    assert back.training["patching"]["labels_dir"] == os.path.normpath(moved / "data" / "labels")
    assert pj.outside_paths(back, moved / "p.ddridproj") == []
    far = pj.Project(training={"patching": {"source": "points", "points": "/elsewhere/points.csv"}})
    assert pj.outside_paths(far, moved / "p.ddridproj") == ["/elsewhere/points.csv"]
    unset = moved / "unset.ddridproj"                  # "" is "not set", as the app reads it: still opens
    unset.write_text('{"format": "ddrid-project", "version": 1, "training": {"patching": {"labels_dir": ""}}}')
    assert pj.load(unset).training["patching"]["labels_dir"] == ""


def test_infinite_threshold_is_stored_as_null(tmp_path):
    path = pj.save(pj.Project(threshold=float("inf")), tmp_path / "p.ddridproj")
    assert json.loads(path.read_text())["threshold"] is None
    assert pj.load(path).threshold is None


@pytest.mark.parametrize("text, words", [
    ("", "invalid JSON"),
    ("{not json", "invalid JSON"),
    ('{"format": "something-else"}', "format marker"),
    ('{"format": "ddrid-project", "version": 99}', "version 99"),
    ('{"format": "ddrid-project", "version": 1, "patch_size": "big"}', "patch_size"),
    ('{"format": "ddrid-project", "version": 1, "annotations": [{"path": "a.tif", "normal": [[0, 1]]}]}',
     "[page, y, x]"),
    ('{"format": "ddrid-project", "version": 1, "annotations": [{"path": "a.tif", "normal": [[true, 0, 0]]}]}',
     "integer"),
    ('{"format": "ddrid-project", "version": 1, "threshold": "__import__(\'os\')"}', "threshold"),
    # 400 digits: float() raised OverflowError out of load, and the app's Open Project with it.
    ('{"format": "ddrid-project", "version": 1, "threshold": 1' + "0" * 400 + "}", "'threshold'"),
    ('{"format": "ddrid-project", "version": 1, "patch_size": -1' + "0" * 400 + "}", "patch_size"),
    ('{"format": "ddrid-project", "version": 1, "training": {"patching": {"source": "auto", "object_size": 1'
     + "0" * 400 + "}}}", "object size"),
    # A lone surrogate is valid JSON but no file name: it failed later, after the open work was reset.
    ('{"format": "ddrid-project", "version": 1, "inputs": ["\\ud800"]}', "cannot be a file name"),
    ('{"format": "ddrid-project", "version": 1, "training": {"patching": {"source": "labels", '
     '"labels_dir": "\\ud800"}}}', "training.patching.labels_dir"),
])
def test_broken_files_give_one_clear_line(tmp_path, text, words):
    from ddrcore.config import TrainConfig

    path = tmp_path / "bad.ddridproj"
    path.write_text(text)
    with pytest.raises(pj.ProjectFileError) as info:
        pj.load(path, check_training=TrainConfig.check_settings)     # as the app opens projects
    msg = str(info.value)
    assert str(path) in msg and words in msg and "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(pj.ProjectFileError, match="no such project file"):
        pj.load(tmp_path / "nope.ddridproj")


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    target = tmp_path / "p.ddridproj"
    target.write_text('{"format": "ddrid-project", "version": 1}\n')   # an older project of ddrid's: replaced
    pj.save(pj.Project(), target)
    assert pj.load(target) == pj.Project()
    assert [p.name for p in tmp_path.iterdir()] == ["p.ddridproj"]
