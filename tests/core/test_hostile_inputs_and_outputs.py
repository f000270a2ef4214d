"""A user's files are never lost or overwritten, and hostile inputs are refused with one line:
outputs and inputs, special files and links, CSV formulas, forged models, oversized images
and models, checks before work, interrupted writes, forged project files."""
from __future__ import annotations

import copy
import csv
import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from ddrcore.model import modelfile
from ddrcore.io import project as pj
from ddrcore.config import TrainConfig
from ddrcore.cli import main
from ddrcore.errors import ImageReadError, ModelFileError
from ddrcore.io.export import write_csv, write_objects_csv
from ddrcore.io.images import PatchSource
from ddrcore.io.reading import read_image_groups

# Names new with issue 10 are imported inside the tests, so that each test fails on its own
# against the code before the fix.


def _outputs():
    from ddrcore.io.outputs import OutputError, check_output

    return OutputError, check_output

from synthetic import ring_patch


@pytest.fixture
def model_file(tiny_model, tmp_path):
    return modelfile.save(tiny_model, tmp_path / "m.ddrid")


def _docx(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("word/document.xml", "<w:document>my thesis</w:document>")
    return path.read_bytes()


# outputs never overwrite inputs or foreign files -----------------------------------------------------
def test_outputs_never_overwrite_inputs_or_foreign_files(model_file, test_dir, normal_dir, tmp_path, capsys,
                                                          monkeypatch):
    OutputError, check_output = _outputs()
    image = test_dir / "normal" / "ring_0.tif"
    before = image.read_bytes()
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(image)]) == 1
    assert "never writes its inputs" in capsys.readouterr().err
    assert image.read_bytes() == before
    # The model in use, even with --force.
    model_bytes = model_file.read_bytes()
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(model_file), "--force"]) == 1
    assert model_file.read_bytes() == model_bytes
    # Training into its own input folder is refused before any training.
    import ddrcore.model.training as training

    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("trained before checking the output"))
    target = normal_dir / "ring_01.tif"
    before = target.read_bytes()
    assert main(["--quiet", "train", str(normal_dir), "-o", str(target)]) == 1
    assert target.read_bytes() == before
    # An unrelated document is not a CSV: kept unless --force.
    thesis = tmp_path / "thesis.docx"
    doc = _docx(thesis)
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(thesis)]) == 1
    assert thesis.read_bytes() == doc and "--force" in capsys.readouterr().err
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(thesis), "--force"]) == 0
    assert thesis.read_text().startswith("rank,path")
    # A CSV of the same kind is replaced, as before.
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(thesis)]) == 0
    # A model is not written over an image elsewhere either (another kind).
    with pytest.raises(OutputError, match="not a ddrid model"):
        check_output(image, "model")


def test_hard_links_and_links_to_inputs_count_as_inputs(model_file, test_dir, tmp_path):
    OutputError, check_output = _outputs()
    image = test_dir / "normal" / "ring_1.tif"
    link = tmp_path / "alias.csv"
    os.symlink(image, link)
    with pytest.raises(OutputError, match="input"):
        check_output(link, "csv", [test_dir / "normal" / "ring_1.tif"], force=True)
    hard = tmp_path / "hard.tif"
    os.link(image, hard)
    with pytest.raises(OutputError, match="input"):
        check_output(hard, "csv", [image], force=True)


# special files and links -----------------------------------------------------------------------------
def test_special_files_are_refused_and_symlinks_write_their_target(model_file, test_dir, tmp_path, capsys):
    OutputError, check_output = _outputs()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(fifo), "--force"]) == 1
    assert "FIFO" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(OutputError, match="device"):
        check_output("/dev/null", "csv", force=True)
    with pytest.raises(OutputError, match="folder"):
        check_output(tmp_path, "csv", force=True)
    # A symlink: its target is written, the link stays a link.
    real = tmp_path / "real.csv"
    real.write_text("rank,path,page\n")   # a CSV ddrid wrote (its header): replaced
    link = tmp_path / "link.csv"
    os.symlink(real, link)
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(link)]) == 0
    assert os.path.islink(link) and real.read_text().startswith("rank,path")


# CSV cells are text, never formulas ------------------------------------------------------------------
def test_csv_cells_cannot_be_formulas(tiny_model, rng):
    from ddrcore.io.export import csv_safe
    from ddrcore.objects import Patching
    from ddrcore.model.scoring import Scores

    n = 4
    latent = np.array([-3.5, 2.0, 1.0, -1e-5])
    scores = Scores(latent=latent, recon=latent.copy(), score_type="latent", threshold=0.5)
    evil = ['=HYPERLINK("http://x","y").tif', "+1+2.tif", "@SUM(A1).tif", "-2+3.tif"]
    sources = [PatchSource(p, 0, 0, 0) for p in evil[:n]]
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = write_csv(os.path.join(d, "r.csv"), scores, sources, tiny_model.stamp("=cmd|' /C calc'!A0.ddrid"))
        rows = list(csv.DictReader(open(out)))
        assert {r["path"] for r in rows} == {"'" + p for p in evil}
        assert all(r["model"].startswith("'=") for r in rows)
        # Numbers stay numbers.
        assert sorted(float(r["score"]) for r in rows) == sorted(latent)
        out = write_objects_csv(os.path.join(d, "o.csv"), sources, Patching("grid", patch_size=32))
        assert {r["path"] for r in csv.DictReader(open(out))} == {"'" + p for p in evil}
    assert csv_safe("\tx") == "'\tx" and csv_safe("\rx") == "'\rx" and csv_safe("-1.5e-3") == "-1.5e-3"
    assert csv_safe("-inf") == "'-inf" and csv_safe(-2.0) == -2.0 and csv_safe("a=b") == "a=b"


# forged model files and out-of-range numbers ---------------------------------------------------------
def _forge(tiny_model, tmp_path, edit, name="forged.ddrid"):
    payload = copy.deepcopy(modelfile.to_payload(tiny_model))   # tensors are shared with the session's model
    edit(payload)
    p = tmp_path / name
    torch.save(payload, p)
    return p


@pytest.mark.parametrize("edit, field", [
    (lambda p: p["preprocess"].update(maximum=p["preprocess"]["minimum"]), "preprocess"),
    (lambda p: p["preprocess"].update(minimum=float("nan")), "preprocess.minimum"),
    (lambda p: p["threshold"].__class__ and p.update(threshold=float("nan")), "threshold"),
    (lambda p: p.update(threshold=float("-inf")), "threshold"),
    (lambda p: next(iter(p["state"]["r_c"].values())).fill_(float("nan")), "state.r_c"),
    (lambda p: p["validation_scores"]["latent"].fill_(float("nan")), "validation_scores.latent"),
    (lambda p: p["config"].update(seed="=cmd"), "seed"),
    # Finite but fatal: a negative BatchNorm variance gives NaN scores, a weight of 1e30 infinite ones.
    (lambda p: next(v for k, v in p["state"]["view"].items() if k.endswith("running_var")).fill_(-1.0),
     "state.view"),
    (lambda p: next(iter(p["state"]["r_n"].values())).view(-1)[0].fill_(1e30), "state.r_n"),
    (lambda p: p["validation"].update(threshold_rule="95 % quantile\u202e"), "validation.threshold_rule"),
    # Types the networks would take as they are (loaded with assign=True) and fail on mid-score.
    (lambda p: p["state"]["r_c"].update({k: v.long() for k, v in p["state"]["r_c"].items()
                                         if k.endswith("running_mean")}), "state.r_c"),
    (lambda p: p["state"]["r_n"].update({k: v.to(torch.complex64) for k, v in list(p["state"]["r_n"].items())[:1]}),
     "state.r_n"),
])
def test_forged_models_are_refused_naming_the_field(tiny_model, tmp_path, edit, field):
    # The payload's check is what load runs on every file (the round trip through a file and the command
    # line is in tests/core/test_reliability.py); checked here in memory, as a 80 MB file per case costs
    # a third of a second.
    payload = copy.deepcopy(modelfile.to_payload(tiny_model))
    edit(payload)
    with pytest.raises(ModelFileError, match=field.replace(".", r"\.")) as e:
        modelfile.check_payload(payload)
    assert "\n" not in str(e.value)


def test_cli_refuses_non_finite_and_out_of_range_numbers(capsys):
    for argv in (["score", "m", "d", "--csv", "o.csv", "--threshold", "nan"],
                 ["score", "m", "d", "--csv", "o.csv", "--threshold", "-inf"],
                 ["train", "d", "-o", "m", "--seed", "-1"],
                 ["train", "d", "-o", "m", "--seed", str(2**70)],
                 ["train", "d", "-o", "m", "--min-steps-per-epoch", "-5"],
                 ["train", "d", "-o", "m", "--lr", "nan"],
                 ["train", "d", "-o", "m", "--input-size", "4096"],
                 ["score", "m", "d", "--csv", "o.csv", "--max-pixels", "0"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2, argv
    capsys.readouterr()


# sizes checked before memory is spent ----------------------------------------------------------------
def _bomb(path, side=16000):
    tile = np.zeros((256, 256), np.uint8)
    n = (-(-side // 256)) ** 2
    tifffile.imwrite(path, data=(tile for _ in range(n)), shape=(side, side), dtype=np.uint8, tile=(256, 256),
                     compression="zlib")
    return path


def test_bomb_tiff_is_refused_from_its_header(tmp_path):
    bomb = _bomb(tmp_path / "bomb.tif")
    assert bomb.stat().st_size < 1_000_000
    t = time.perf_counter()
    with pytest.raises(ImageReadError, match="over the limit") as e:
        read_image_groups(bomb)
    assert time.perf_counter() - t < 2.0 and "--max-pixels" in str(e.value)


def test_pixel_limit_covers_png_and_is_configurable(tmp_path):
    from PIL import Image

    from ddrcore.io.reading import set_max_pixels

    png = tmp_path / "big.png"
    Image.new("L", (300, 200)).save(png)
    previous = set_max_pixels(50_000)
    try:
        with pytest.raises(ImageReadError, match="over the limit"):
            read_image_groups(png)
        tif = tmp_path / "big.tif"
        tifffile.imwrite(tif, np.arange(300 * 200, dtype=np.uint16).reshape(200, 300))
        with pytest.raises(ImageReadError, match="over the limit"):
            read_image_groups(tif)
        set_max_pixels(60_000)
        assert read_image_groups(tif)[0].shape == (1, 200, 300, 1)
    finally:
        set_max_pixels(previous)


def test_absurd_model_sizes_are_refused_before_building(tiny_model, tmp_path, monkeypatch):
    import ddrcore.model.modelfile as mf

    built = []
    real = mf.DDRIDNetworks
    monkeypatch.setattr(mf, "DDRIDNetworks", lambda *a, **k: built.append(a) or real(*a, **k))
    for edit, field in ((lambda p: p["architecture"].update(latent_dim=100000), "latent_dim"),
                        (lambda p: p["config"].update(patch_size=100000), "patch_size"),
                        (lambda p: p["architecture"].update(input_size=4096), "input_size")):
        with pytest.raises(ModelFileError, match=field):
            modelfile.load(_forge(tiny_model, tmp_path, edit), "cpu")
    assert built == []


def test_training_memory_is_estimated_and_refused(monkeypatch, tiny_config):
    from ddrcore.model import training
    from ddrcore.errors import TrainingError

    small = training.memory_estimate(100, 1, 32, 8)
    big = training.memory_estimate(100, 1, 512, 256)
    assert 0 < small < big
    monkeypatch.setattr(training, "device_memory", lambda device: 1_000_000)
    x = np.stack([ring_patch(np.random.default_rng(i)) for i in range(8)]).astype(np.float32)[:, None]
    with pytest.raises(TrainingError, match="GiB"):
        next(training.train(x, tiny_config))


# outputs checked before the work ---------------------------------------------------------------------
def test_output_checked_before_the_work(model_file, normal_dir, test_dir, tmp_path, monkeypatch, capsys):
    import shutil

    import ddrcore.io.images as images
    import ddrcore.model.training as training

    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("trained before checking the output"))
    monkeypatch.setattr(images, "load_patches", lambda *a, **k: pytest.fail("read images before checking"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    t = time.perf_counter()
    assert main(["--quiet", "train", str(normal_dir), "-o", str(blocker / "m.ddrid")]) == 1
    assert "cannot write here" in capsys.readouterr().err
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(blocker / "r.csv")]) == 1
    capsys.readouterr()
    Usage = type("Usage", (), {"free": 10, "total": 10, "used": 0})
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage())
    assert main(["--quiet", "train", str(normal_dir), "-o", str(tmp_path / "m2.ddrid")]) == 1
    err = capsys.readouterr().err
    assert "free" in err and len(err.strip().splitlines()) == 1
    assert time.perf_counter() - t < 10


# interrupted writes leave nothing behind -------------------------------------------------------------
def test_interrupt_right_after_the_temp_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    import ddrcore.io.atomic as atomic

    calls = []

    def close(fd, _real=os.close):
        _real(fd)
        if not calls:
            calls.append(fd)
            raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "close", close)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text_atomic(tmp_path / "out.csv", "x\n")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_sigterm_removes_the_temp_file(tmp_path):
    script = (
        "import sys, time\n"
        "from ddrcore.io.atomic import atomic_path, cleanup_on_signals\n"
        "cleanup_on_signals()\n"
        f"with atomic_path({str(tmp_path / 'model.ddrid')!r}) as tmp:\n"
        "    tmp.write_bytes(b'x' * 1000)\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd(),
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.stdout.readline().strip() == b"ready"
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    proc.terminate()
    proc.wait(10)
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_files_are_swept_on_the_next_write(tmp_path):
    from ddrcore.io.atomic import write_text_atomic

    stale = tmp_path / ".m.ddrid.ab12cd34.tmp"     # a SIGKILLed save
    stale.write_bytes(b"x" * 100)
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    fresh = tmp_path / ".other.csv.ef56ab78.tmp"   # another run in progress: kept
    fresh.write_text("y")
    unrelated = tmp_path / ".notes.tmp"            # not ours
    unrelated.write_text("z")
    os.utime(unrelated, (old, old))
    write_text_atomic(tmp_path / "out.csv", "a\n")
    assert not stale.exists() and fresh.exists() and unrelated.exists()


# forged project files --------------------------------------------------------------------------------
def _project_doc(**changes):
    doc = {"format": "ddrid-project", "version": 1, "inputs": ["data"], "patch_size": 32, "channel": None,
           "model": None, "threshold": 1.5, "training": {}, "annotations": [{"path": "data/a.tif",
                                                                              "normal": [[0, 0, 0]]}]}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("text, what", [
    ("[" * 100000 + "]" * 100000, "nested"),
    ('{"a":' * 50 + "1" + "}" * 50, "nested"),
    (json.dumps(_project_doc()).replace("1.5", "NaN"), "NaN"),
    (json.dumps(_project_doc()).replace("1.5", "1e999"), "out of range"),
    (json.dumps(_project_doc(patch_size=10**30)), "patch_size"),
    (json.dumps(_project_doc(annotations=[{"path": "a.tif", "normal": [[-1, 0, 0]]}])), "page"),
    (json.dumps(_project_doc(channel=-999)), "channel"),
    (json.dumps(_project_doc(inputs=["da\x00ta"])), "NUL"),
    (json.dumps(_project_doc(annotations=[{"path": "a\x00.tif", "normal": [[0, 0, 0]]}])), "NUL"),
    (json.dumps(_project_doc(version=True)), "version"),
    (json.dumps(_project_doc(annotations=[{"path": "a.tif", "anomalous": [[0, 0, 0]]}])), "unknown mark"),
    (json.dumps(_project_doc(training={"seed": -1})), "seed"),
])
def test_forged_project_files_are_refused_with_one_line(tmp_path, text, what):
    p = tmp_path / "p.ddridproj"
    p.write_text(text)
    with pytest.raises(pj.ProjectFileError, match=what) as e:
        pj.load(p, check_training=TrainConfig.check_settings)
    assert "\n" not in str(e.value)


def test_bom_accepted_and_outside_paths_listed(tmp_path):
    p = tmp_path / "proj" / "p.ddridproj"
    p.parent.mkdir()
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(_project_doc(inputs=["../elsewhere", "/abs/data"])).encode())
    proj = pj.load(p)
    assert proj.threshold == 1.5
    outside = pj.outside_paths(proj, p)
    assert os.path.normpath(str(tmp_path / "elsewhere")) in outside and os.path.normpath("/abs/data") in outside


def test_project_save_never_writes_an_input(tmp_path):
    OutputError, check_output = _outputs()
    img = tmp_path / "a.tif"
    tifffile.imwrite(img, np.zeros((8, 8), np.uint8))
    proj = pj.Project(inputs=[str(img)])
    with pytest.raises(OutputError):
        pj.save(proj, img)
    doc = tmp_path / "thesis.docx"
    data = _docx(doc)
    with pytest.raises(OutputError, match="--force"):
        pj.save(proj, doc)
    assert doc.read_bytes() == data


# smaller ---------------------------------------------------------------------------------------------
def test_random_bytes_are_not_reported_as_code(tmp_path):
    p = tmp_path / "noise.ddrid"
    p.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ModelFileError) as e:
        modelfile.load(p)
    assert "code" not in str(e.value) and "not a ddrid model" in str(e.value)


def test_score_does_not_suggest_an_option_it_lacks(model_file, test_dir, capsys):
    rgb = np.stack([ring_patch(np.random.default_rng(i)) for i in range(3)], axis=-1)
    tifffile.imwrite(test_dir / "normal" / "rgb.tif", rgb, photometric="rgb")
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(test_dir.parent / "r.csv")]) == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "rgb.tif" in ln)
    assert "grey images" in line and "(--channel 0" not in line
    # The same when that file is all there is (the run's one error line said "choose one with --channel").
    assert main(["--quiet", "score", str(model_file), str(test_dir / "normal" / "rgb.tif"),
                 "--csv", str(test_dir.parent / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert "grey images" in err and "choose one with --channel" not in err, err
    assert err.count("rgb.tif") == 2, err       # the run's path and the file's, not the file's twice over


def test_hints_name_the_real_cause(model_file, test_dir, tmp_path, capsys):
    # A grid model has no measurements: the line said "older files ...; retrain it", which cannot help.
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(tmp_path / "r.csv"),
                 "--score", "measure"]) == 1
    err = capsys.readouterr().err
    assert "needs objects with an outline" in err and "older" not in err, err
    # Objects found, every one on the border: the border policy is the cause, not the object size.
    img = np.full((96, 96), 100, np.uint16)
    yy, xx = np.mgrid[:96, :96]
    for cy, cx in ((0, 30), (95, 60), (40, 0), (70, 95)):
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= 81] = 3000
    (tmp_path / "edge").mkdir()
    tifffile.imwrite(tmp_path / "edge" / "edge.tif", img)
    assert main(["--quiet", "objects", str(tmp_path / "edge"), "--object-size", "18"]) == 1
    err = capsys.readouterr().err
    assert "--border flag" in err and "check --object-size" not in err, err
    # A blank field has no objects to size: said as such (it asked for --object-size).
    tifffile.imwrite(tmp_path / "blank.tif", np.zeros((128, 128), np.uint16))
    assert main(["--quiet", "objects", str(tmp_path / "blank.tif")]) == 1
    err = capsys.readouterr().err
    assert "image is constant" in err and "give --object-size" not in err, err


def test_a_robust_threshold_is_not_read_from_a_handful_of_objects(model_file, test_dir, tmp_path, capsys):
    # One object is its own median: --threshold robust flagged it whatever it was.
    one = tmp_path / "one"
    one.mkdir()
    (one / "ring.tif").write_bytes(next((test_dir / "normal").glob("*.tif")).read_bytes())
    assert main(["--quiet", "score", str(model_file), str(one), "--csv", str(tmp_path / "r.csv"),
                 "--threshold", "robust"]) == 0
    out = capsys.readouterr()
    assert "needs at least 10 scored objects" in out.err and "model's threshold is used" in out.err, out.err
    assert "(robust" not in out.out
    from ddrcore.model.modelfile import load

    with open(tmp_path / "r.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["threshold"]) == pytest.approx(load(model_file, "cpu").threshold, rel=1e-5)


def test_patches_far_larger_than_the_images_are_refused_in_one_line(normal_dir, tmp_path, capsys):
    # 32 px images in 4096 px patches: each padded to 4096 px, shrunk under a pixel, seconds a patch.
    assert main(["--quiet", "train", str(normal_dir), "-o", str(tmp_path / "m.ddrid"), "--patch-size", "4096",
                 "--pretrain-epochs", "1", "--finetune-epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "far smaller than the 4096 px patches" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m.ddrid").exists()


def test_a_file_name_cannot_forge_a_line_or_send_a_terminal_escape(model_file, test_dir, capsys):
    # A line break in a name printed one bad file as two "skipped" lines; an escape cleared the screen.
    (test_dir / "normal" / "bad\nskipped fake.tif: fine.tif").write_text("not an image")
    (test_dir / "normal" / "esc\x1b[2J\x1b[31mred.tif").write_text("not an image")
    assert main(["score", str(model_file), str(test_dir), "--csv", str(test_dir.parent / "r.csv")]) == 0
    err = capsys.readouterr().err     # progress lines too (they name the file being read)
    assert "\x1b" not in err and sum(ln.startswith("skipped") for ln in err.splitlines()) == 2, err
    assert "bad\\nskipped fake.tif" in err and "esc\\x1b[2J" in err
    # The one-line error of a whole run too.
    assert main(["--quiet", "score", str(model_file), str(test_dir / "normal" / "esc\x1b[2J\x1b[31mred.tif"),
                 "--csv", str(test_dir.parent / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("command", ["train", "objects"])
def test_a_negative_channel_is_refused_alike_by_every_command(command, test_dir, tmp_path, capsys):
    """`objects --channel -1` used to count from the end, where `train` refused it naming no option."""
    out = ["-o", str(tmp_path / "m.ddrid")] if command == "train" else ["--csv", str(tmp_path / "o.csv")]
    with pytest.raises(SystemExit) as exit_:
        main([command, str(test_dir), "--channel", "-1", *out])
    assert exit_.value.code == 2
    assert "--channel: channel must be an index (0, 1, ...) or 'all', got -1" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "m.ddrid").exists()


def test_links_and_fifos_are_named_not_silently_skipped(tmp_path):
    from ddrcore.errors import NoUsableImagesError
    from ddrcore.io.images import load_patches
    from ddrcore.progress import run_to_end

    d = tmp_path / "imgs"
    d.mkdir()
    tifffile.imwrite(d / "a.tif", ring_patch(np.random.default_rng(0)))
    os.symlink(tmp_path / "gone.tif", d / "dangling.tif")
    other = tmp_path / "other"
    other.mkdir()
    os.symlink(other, d / "linked")
    bad = {Path(b.path).name: b.reason for b in run_to_end(load_patches(d)).bad}
    assert "missing file" in bad["dangling.tif"] and "not followed" in bad["linked"]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NoUsableImagesError, match="FIFO"):
        run_to_end(load_patches(fifo))


def test_same_kind_outputs_are_replaced_and_reports_follow_the_rule(model_file, tmp_path):
    from ddrcore.io.report import write_report

    OutputError, check_output = _outputs()
    assert check_output(model_file, "model") == model_file          # a ddrid model over a ddrid model: fine
    img = tmp_path / "a.png"
    from PIL import Image

    Image.new("L", (8, 8)).save(img)
    src = [PatchSource(str(img), 0, 0, 0)]
    with pytest.raises(OutputError, match="input"):
        write_report(img, np.array([1.0]), 0.5, np.zeros((1, 1, 8, 8), np.float32), src)
    doc = tmp_path / "thesis.pdf.docx"
    _docx(doc)
    with pytest.raises(OutputError, match="--force"):
        check_output(doc, "report")


def test_architecture_larger_than_the_file_is_refused_unbuilt(tiny_model, tmp_path, monkeypatch):
    import ddrcore.model.modelfile as mf

    built = []
    real = mf.DDRIDNetworks
    monkeypatch.setattr(mf, "DDRIDNetworks",
                        lambda *a, **k: built.append(str(torch.get_default_device())) or real(*a, **k))
    # Each value in range, together 2 x 2 G weights: the file cannot hold them.
    p = _forge(tiny_model, tmp_path, lambda p: (p["architecture"].update(latent_dim=4096, input_size=512),
                                                p["config"].update(input_size=512),
                                                p.update(z_c=torch.zeros(4096))))
    with pytest.raises(ModelFileError, match="needs .* MB of weights"):
        modelfile.load(p, "cpu")
    assert set(built) <= {"meta"}      # counted, never allocated
