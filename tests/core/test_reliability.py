"""Issue 22: never lose, never hang, never blow up — the next round.

One test (or a few) per fault of the issue, each failing before its fix.  Faults about memory run in a
subprocess under a 3 GB address-space cap (``RLIMIT_AS``) and a 30 s timeout, check that the inputs are
unchanged (sha256) and, where several files are read, that the other files' results are written.
"""
from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from ddrcore.cli import main
from ddrcore.errors import ModelFileError
from ddrcore.model import modelfile


ROOT = Path(__file__).resolve().parents[2]
CAP = 3 * 2**30          # the address-space cap
LIMIT_S = 30             # and its time limit


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_sha(folder: Path) -> dict:
    return {str(p.relative_to(folder)): sha(p) for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def run_capped(code: str, timeout: float = LIMIT_S, env: dict | None = None):
    """Run ``code`` in a fresh interpreter under the 3 GB address-space cap.

    Returns (completed process, seconds, peak RSS in MB as the child reports it on its last stdout line).
    """
    script = ("import resource, sys\n"
              f"resource.setrlimit(resource.RLIMIT_AS, ({CAP}, {CAP}))\n"
              + textwrap.dedent(code)
              # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) pytest process across exec.
              + "\nprint('PEAK_MB', next(int(ln.split()[1]) // 1024 for ln in open('/proc/self/status') "
                "if ln.startswith('VmHWM')), flush=True)\n")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})})
    seconds = time.perf_counter() - t
    peak = next((int(ln.split()[1]) for ln in proc.stdout.splitlines() if ln.startswith("PEAK_MB")), -1)
    return proc, seconds, peak


def cli_capped(argv, timeout: float = LIMIT_S, env: dict | None = None):
    """``ddrid ARGV`` under the cap; (exit status, stderr, seconds, peak MB)."""
    proc, seconds, peak = run_capped(f"from ddrcore.cli import main\nrc = main({list(map(str, argv))!r})\n"
                                     "print('RC', rc, flush=True)", timeout, env)
    rc = next((int(ln.split()[1]) for ln in proc.stdout.splitlines() if ln.startswith("RC")), proc.returncode)
    return rc, proc.stderr, seconds, peak


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("ddrid: error")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def model_file(tiny_model, tmp_path):
    return modelfile.save(tiny_model, tmp_path / "m.ddrid")


def _forge(tiny_model, tmp_path, edit, name="forged.ddrid"):
    payload = copy.deepcopy(modelfile.to_payload(tiny_model))
    edit(payload)
    p = tmp_path / name
    torch.save(payload, p)
    return p


# ---------------------------------------------------------------------------------- hangs: special files --
@pytest.mark.timeout(60)
def test_fifo_and_dev_zero_as_points_project_or_model_are_refused_at_once(model_file, test_dir, tmp_path, capsys):
    from ddrcore.io import project as pj
    from ddrcore.objects import PointsFileError, read_points

    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)
    for special in (fifo, Path("/dev/zero")):
        t = time.perf_counter()
        with pytest.raises(PointsFileError, match="not a file"):
            read_points(special)
        with pytest.raises(pj.ProjectFileError, match="not a file"):
            pj.load(special)
        with pytest.raises(ModelFileError, match="not a file"):
            modelfile.load(special, "cpu")
        assert time.perf_counter() - t < 5
    out = tmp_path / "r.csv"
    for argv in (["score", model_file, test_dir, "--csv", out, "--objects", "points", "--points", fifo,
                  "--object-size", "8"],
                 ["score", model_file, test_dir, "--csv", out, "--points", "/dev/zero", "--object-size", "8"],
                 ["score", fifo, test_dir, "--csv", out],
                 ["info", "/dev/zero"]):
        assert main(["--quiet", *map(str, argv)]) == 1
        line = one_error_line(capsys.readouterr().err)
        assert "not a file" in line, line
    assert not out.exists()


# ------------------------------------------------------------------------------- memory: points rows --
def test_points_reading_stops_at_the_cap(tmp_path):
    """Ten million rows with the cap at 10,000: refused after the cap, not after parsing the file."""
    big = tmp_path / "points.csv"
    big.write_bytes(b"path,y,x\n" + b"a.tif,1,2\n" * 10_000_000)
    before = sha(big)
    proc, seconds, peak = run_capped(f"""
        from ddrcore.objects import read_points, PointsFileError
        try:
            read_points({str(big)!r})
        except PointsFileError as e:
            print('ERR', e)
        """, env={"DDRID_MAX_POINTS": "10000"})
    assert "ERR" in proc.stdout and "more than 10,000 points" in proc.stdout and "DDRID_MAX_POINTS" in proc.stdout
    assert seconds < 10 and peak < 400, (seconds, peak)
    assert sha(big) == before


@pytest.mark.slow
def test_points_ten_million_rows_at_the_default_cap_under_3gb(tmp_path, model_file, test_dir):
    big = tmp_path / "points.csv"
    big.write_bytes(b"path,y,x\n" + b"normal/ring_0.tif,1,2\n" * 10_000_000)
    before = sha(big)
    rc, err, seconds, peak = cli_capped(["--quiet", "score", model_file, test_dir, "--csv", tmp_path / "r.csv",
                                         "--points", big, "--object-size", "8"])
    assert rc == 1 and "more than 5,000,000 points" in one_error_line(err)
    assert seconds < LIMIT_S and sha(big) == before
    print(f"10M-row points CSV: refused in {seconds:.1f} s, peak {peak} MB")


# ------------------------------------------------------------------------------- forged model tensors --
def test_stride_0_model_tensor_is_refused_unmaterialised(tiny_model, tmp_path, model_file, test_dir, capsys):
    huge = 1_200_000_000           # 4.8 GB of float32 if ever materialised
    p = _forge(tiny_model, tmp_path, lambda d: d["validation_scores"].update(latent=torch.zeros(1).expand(huge)))
    q = _forge(tiny_model, tmp_path, lambda d: d["state"]["r_c"].update(
        {k: torch.zeros(1).expand(huge) for k in list(d["state"]["r_c"])[:1]}), name="forged2.ddrid")
    assert p.stat().st_size < 100_000_000     # the 4.8 GB are not in the file
    for forged in (p, q):
        with pytest.raises(ModelFileError, match="stride 0"):
            modelfile.load(forged, "cpu")
        before = sha(forged)
        rc, err, seconds, peak = cli_capped(["--quiet", "score", forged, test_dir, "--csv", tmp_path / "r.csv"])
        assert rc == 1 and "stride 0" in one_error_line(err), err
        assert seconds < LIMIT_S and peak < 1500 and sha(forged) == before


def test_tensor_claiming_more_than_its_storage_is_refused(tiny_model, tmp_path):
    from ddrcore.model.modelfile import check_tensor_sizes

    overlapping = torch.zeros(3).as_strided((2, 2), (1, 1))     # 4 values over 3 stored, no stride 0
    with pytest.raises(ModelFileError, match="z_c claims 16 bytes"):
        check_tensor_sizes({"z_c": overlapping})
    with pytest.raises(ModelFileError, match="z_c"):
        check_tensor_sizes({"z_c": torch.zeros(10)}, max_bytes=8)
    check_tensor_sizes({"z_c": torch.zeros(10)}, max_bytes=40)


@pytest.mark.parametrize("edit, what", [
    (lambda d: d["preprocess"].update(minimum=0.0, maximum=5e-324), "range"),
    (lambda d: d["preprocess"].update(minimum=-1e300, maximum=1e300), "outside"),
    (lambda d: d["preprocess"].update(method="zscore"), "method"),
    (lambda d: d.update(score_type="latent", threshold=-1.0), "negative"),
    (lambda d: d["validation_scores"]["recon"].fill_(-2.0), "negative"),
])
def test_model_fields_are_checked_for_meaning(tiny_model, tmp_path, edit, what, test_dir, capsys):
    p = _forge(tiny_model, tmp_path, edit)
    with pytest.raises(ModelFileError, match=what) as e:
        modelfile.load(p, "cpu")
    assert "\n" not in str(e.value)
    assert main(["--quiet", "score", str(p), str(test_dir), "--csv", str(tmp_path / "r.csv")]) == 1
    assert what in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "r.csv").exists()


# ------------------------------------------------------------------------- outputs that feed back or clobber --
def test_decompositions_inside_the_input_folder_are_refused(model_file, test_dir, tmp_path, capsys, monkeypatch):
    import ddrcore.io.images as images

    before = tree_sha(test_dir)
    monkeypatch.setattr(images, "load_patches", lambda *a, **k: pytest.fail("read images before checking"))
    for inside in (test_dir / "decomp", test_dir / "normal" / "deeper" / "decomp"):
        assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(tmp_path / "r.csv"),
                     "--decompositions", str(inside)]) == 1
        assert "inside the input folder" in one_error_line(capsys.readouterr().err)
        assert not inside.exists()
    assert tree_sha(test_dir) == before and not (tmp_path / "r.csv").exists()
    # The engine refuses it too, whoever calls it (the GUI, a script).
    from ddrcore.io.outputs import OutputError, check_output

    with pytest.raises(OutputError, match="inside the input folder"):
        check_output(test_dir / "out", "folder", [test_dir])
    check_output(tmp_path / "outside", "folder", [test_dir])


@pytest.mark.parametrize("content", [b"my thesis, one line of text\n", b"a,b,c\n1,2,3\n", b"{}\n"])
def test_only_files_ddrid_wrote_are_replaced_without_force(model_file, test_dir, tmp_path, capsys, content):
    thesis = tmp_path / "thesis.docx"
    thesis.write_bytes(content)
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(thesis)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "--force" in line and "written by ddrid" in line
    assert thesis.read_bytes() == content
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(thesis), "--force"]) == 0
    # Now a ddrid CSV: replaced as always.
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(thesis)]) == 0
    capsys.readouterr()


def test_markers_of_each_kind(model_file, tmp_path, tiny_model):
    from ddrcore.io import project as pj
    from ddrcore.io.outputs import OutputError, check_output

    other = tmp_path / "other.json"
    other.write_text('{"format": "someone-else"}\n')
    with pytest.raises(OutputError, match="--force"):
        pj.save(pj.Project(), other)
    mine = pj.save(pj.Project(), tmp_path / "p.ddridproj")
    assert pj.save(pj.Project(), mine) == mine                      # ddrid's own project: replaced
    # A torch file that is not a ddrid model is not replaced by one.
    foreign = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(3)}, foreign)
    with pytest.raises(OutputError, match="--force"):
        check_output(foreign, "model")
    assert check_output(model_file, "model") == model_file
    # A PDF that ddrid did not write is not a report of ddrid's.
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% a paper\n")
    with pytest.raises(OutputError, match="--force"):
        check_output(pdf, "report")
