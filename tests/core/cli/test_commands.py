import csv
import re
import subprocess
import sys

import numpy as np
import pytest

from ddrcore.cli import main
from synthetic import ring_patch


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("train", "score", "info", "demo"):
        assert cmd in out
    for cmd in ("train", "score", "info", "demo"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])


@pytest.mark.slow   # trains a model through the CLI (tens of seconds on 2 cores)
def test_train_score_info(normal_dir, test_dir, tmp_path, capsys):
    model = tmp_path / "m.ddrid"
    rc = main(["--quiet", "train", str(normal_dir), "-o", str(model), "--pretrain-epochs", "1",
               "--finetune-epochs", "1", "--batch-size", "8", "--device", "cpu", "--seed", "5"])
    assert rc == 0 and model.is_file()
    out_csv = tmp_path / "ranked.csv"
    rc = main(["--quiet", "score", str(model), str(test_dir), "--csv", str(out_csv),
               "--decompositions", str(tmp_path / "dec")])
    assert rc == 0
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == 12 and rows[0]["rank"] == "1" and rows[0]["seed"] == "5"
    assert len(list((tmp_path / "dec").glob("*.tif"))) == 12
    rc = main(["--quiet", "score", str(model), str(test_dir), "--csv", str(tmp_path / "r2.csv"), "--score", "recon"])
    assert rc == 0
    assert {r["score_type"] for r in csv.DictReader(open(tmp_path / "r2.csv"))} == {"AS_r"}
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "seed            5" in out
    from ddrcore.config import TrainConfig

    assert f"profile         {TrainConfig().profile}" in out


def test_errors_are_one_line_with_nonzero_exit(tmp_path, capsys):
    bogus = tmp_path / "bogus.ddrid"
    bogus.write_bytes(b"not a model at all")
    assert main(["info", str(bogus)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bogus.ddrid" in err[0] and "Traceback" not in err[0]
    assert main(["--quiet", "train", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.ddrid")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere" in err[0]
    assert not (tmp_path / "m.ddrid").exists()


@pytest.mark.slow   # trains a model through the CLI
def test_bad_files_reported_on_stderr(normal_dir, tmp_path, capsys):
    (normal_dir / "broken.tif").write_bytes(b"garbage")
    rc = main(["--quiet", "train", str(normal_dir), "-o", str(tmp_path / "m.ddrid"), "--pretrain-epochs", "1",
               "--finetune-epochs", "0", "--batch-size", "8"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.tif" in err


def _demo_like(root, rng, n_train=24, n_test=6):
    """A small folder laid out like the bundled demo: train/normal, test/normal, test/anomaly."""
    import tifffile

    from synthetic import blob_patch

    for sub in ("train/normal", "test/normal", "test/anomaly"):
        (root / sub).mkdir(parents=True)
    for i in range(n_train):
        tifffile.imwrite(root / "train" / "normal" / f"ring_{i:02d}.tif", ring_patch(rng))
    for i in range(n_test):
        tifffile.imwrite(root / "test" / "normal" / f"ring_{i}.tif", ring_patch(rng))
        tifffile.imwrite(root / "test" / "anomaly" / f"blob_{i}.tif", blob_patch(rng))
    return root


@pytest.mark.slow   # the demo end to end on demo-shaped data
def test_demo_pipeline_reports_the_auc_of_its_csv(tmp_path, rng, capsys):
    """`ddrid demo` end to end, in-process, on demo-shaped data: the AUC it prints is the CSV's."""
    from ddrcore.model.scoring import roc_auc

    data = _demo_like(tmp_path / "data", rng)
    rc = main(["--quiet", "demo", "--data", str(data), "--out", str(tmp_path / "demo"),
               "--pretrain-epochs", "2", "--finetune-epochs", "2", "--device", "cpu"])
    assert rc == 0
    printed = float(re.search(r"AUC (\d\.\d+)", capsys.readouterr().out).group(1))
    rows = list(csv.DictReader(open(tmp_path / "demo" / "demo-ranked.csv")))
    assert len(rows) == 12
    labels = np.array([int("anomaly" in r["path"]) for r in rows])
    auc = roc_auc(np.array([float(r["score"]) for r in rows]), labels)
    assert printed == pytest.approx(auc, abs=1e-3)
    assert (tmp_path / "demo" / "demo-model.ddrid").is_file()


@pytest.mark.slow
@pytest.mark.timeout(1200)   # 12 + 12 epochs: 234 s on 2 cores at load average 4 (issue 25)
def test_demo_on_bundled_data_finds_its_anomalies(tmp_path):
    """The bundled demo at its own schedule (minutes): the AUC it prints, not just that it prints one.

    Run with ``pytest -m slow``.  Measured: AUC 0.930 (25 + 25 epochs, seed 0); 0.964 at the 12 + 12 of issue 25.
    """
    out = subprocess.run([sys.executable, "-m", "ddrcore", "--quiet", "demo", "--out", str(tmp_path / "demo"),
                          "--device", "cpu"], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr
    auc = float(re.search(r"AUC (\d\.\d+)", out.stdout).group(1))
    assert auc >= 0.85, out.stdout
    rows = list(csv.DictReader(open(tmp_path / "demo" / "demo-ranked.csv")))
    assert len(rows) == 200


def test_interrupt_during_decompositions_says_what_is_complete(tiny_model, test_dir, tmp_path, capsys, monkeypatch):
    import tifffile

    from ddrcore.model import modelfile

    model = tmp_path / "m.ddrid"
    modelfile.save(tiny_model, model)
    real, calls = tifffile.imwrite, []

    def imwrite(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt   # Ctrl+C while the third decomposition is written
        return real(*args, **kwargs)

    monkeypatch.setattr(tifffile, "imwrite", imwrite)
    out_csv, dec = tmp_path / "ranked.csv", tmp_path / "dec"
    rc = main(["--quiet", "score", str(model), str(test_dir), "--csv", str(out_csv), "--decompositions", str(dec)])
    err = capsys.readouterr().err
    assert rc == 130
    assert "ranked.csv is complete" in err and "only some" in err
    assert len(list(csv.DictReader(open(out_csv)))) == 12
    assert len(list(dec.glob("*.tif"))) == 2 and not [p for p in dec.iterdir() if p.suffix != ".tif"]


def test_readers_chatter_is_kept_off_the_screen_unless_debugging(tmp_path, capsys):
    import logging
    import warnings

    from PIL import Image

    logger = logging.getLogger("tifffile")
    level = logger.level
    try:
        assert main(["--quiet", "objects", str(tmp_path), "--object-size", "10"]) == 1   # nothing to find
        assert not logger.isEnabledFor(logging.WARNING)
        with warnings.catch_warnings(record=True) as seen:
            warnings.warn("big", Image.DecompressionBombWarning, stacklevel=1)
        assert not seen
    finally:
        logger.setLevel(level)
        warnings.resetwarnings()


def test_score_with_a_robust_threshold_takes_it_from_the_run_s_own_scores(tiny_model, test_dir, tmp_path, capsys):
    from ddrcore.model import modelfile
    from ddrcore.model.thresholds import robust_threshold

    model = tmp_path / "m.ddrid"
    modelfile.save(tiny_model, model)
    out = tmp_path / "ranked.csv"
    assert main(["--quiet", "score", str(model), str(test_dir), "--csv", str(out), "--threshold", "robust"]) == 0
    rows = list(csv.DictReader(open(out)))
    expected = robust_threshold(np.array([float(r["score"]) for r in rows]))
    assert all(float(r["threshold"]) == pytest.approx(expected, rel=1e-5) for r in rows)
    assert expected != pytest.approx(tiny_model.threshold)
    assert [int(r["is_anomaly"]) for r in rows] == [int(float(r["score"]) >= expected) for r in rows]
    assert "robust" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["score", str(model), str(test_dir), "--csv", str(out), "--threshold", "robustly"])
