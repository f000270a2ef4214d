"""Issue 22: never lose, never hang, never blow up — the next round.

One test (or a few) per fault of the issue, each failing before its fix.  Faults about memory run in a
subprocess under a 3 GB address-space cap (``RLIMIT_AS``) and a 30 s timeout, check that the inputs are
unchanged (sha256) and, where several files are read, that the other files' results are written.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from ddrcore.cli import main
from ddrcore.errors import ModelFileError
from ddrcore.model import modelfile
from synthetic import ring_patch


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
@pytest.mark.timeout(60, func_only=True)  # a hang is what is timed, not the fixtures' training
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


@pytest.mark.slow   # over 1.5 s: the default tier stays under 90 s on 2 cores
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
    # Once from the command line under the cap (one subprocess: each costs a torch import).
    before = sha(p)
    rc, err, seconds, peak = cli_capped(["--quiet", "score", p, test_dir, "--csv", tmp_path / "r.csv"])
    assert rc == 1 and "stride 0" in one_error_line(err), err
    assert seconds < LIMIT_S and peak < 1500 and sha(p) == before
    print(f"stride-0 model tensor (4.8 GB claimed): refused in {seconds:.1f} s, peak {peak} MB")


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
def test_model_fields_are_checked_for_meaning(tiny_model, edit, what):
    payload = copy.deepcopy(modelfile.to_payload(tiny_model))   # checked as load checks every file
    edit(payload)
    with pytest.raises(ModelFileError, match=what) as e:
        modelfile.check_payload(payload)
    assert "\n" not in str(e.value)


def test_a_model_field_without_meaning_stops_the_command_in_one_line(tiny_model, tmp_path, test_dir, capsys):
    p = _forge(tiny_model, tmp_path, lambda d: d["preprocess"].update(minimum=0.0, maximum=5e-324))
    with pytest.raises(ModelFileError, match="range") as e:
        modelfile.load(p, "cpu")
    assert "\n" not in str(e.value) and str(p) in str(e.value)
    assert main(["--quiet", "score", str(p), str(test_dir), "--csv", str(tmp_path / "r.csv")]) == 1
    assert "range" in one_error_line(capsys.readouterr().err)
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


def test_only_files_ddrid_wrote_are_replaced_without_force(model_file, test_dir, tmp_path, capsys):
    thesis = tmp_path / "thesis.docx"
    for content in (b"my thesis, one line of text\n", b"a,b,c\n1,2,3\n", b"{}\n"):
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


# ------------------------------------------------------------------------------------------ memory bombs --
def _field_folder(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for i in range(n):
        tifffile.imwrite(folder / f"ring_{i}.tif", ring_patch(rng))
    return folder


def _inflating_tiff(path: Path, pages: int = 64, side: int = 8192, tile: int = 2048) -> Path:
    """A 4 MB TIFF that decodes to pages x side^2 bytes (4 GiB): the same zlib tile, pre-compressed, again and again."""
    import zlib

    enc = zlib.compress(bytes(tile * tile), 9)
    tifffile.imwrite(path, data=(enc for _ in range(pages * (side // tile) ** 2)), shape=(pages, side, side),
                     dtype=np.uint8, tile=(tile, tile), compression="zlib")
    return path


def _rows(path: Path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_inflating_tiff_is_refused_from_its_header_and_the_others_are_scored(model_file, tmp_path):
    data = _field_folder(tmp_path / "data")
    bomb = _inflating_tiff(data / "bomb.tif")
    assert bomb.stat().st_size < 10_000_000
    before = tree_sha(data)
    out = tmp_path / "r.csv"
    rc, err, seconds, peak = cli_capped(["--quiet", "score", model_file, data, "--csv", out])
    assert rc == 0, err
    line = next(ln for ln in err.splitlines() if "bomb.tif" in ln)
    assert line.startswith("skipped") and "GiB" in line and "DDRID_MAX_IMAGE_BYTES" in line, line
    rows = _rows(out)
    assert sorted({Path(r["path"]).name for r in rows if r["rank"]}) == ["ring_0.tif", "ring_1.tif", "ring_2.tif"]
    assert [Path(r["path"]).name for r in rows if not r["rank"]] == ["bomb.tif"]      # the CSV's note row
    assert seconds < LIMIT_S and tree_sha(data) == before
    print(f"4 GiB-inflating TIFF: run done in {seconds:.1f} s, peak {peak} MB")
    # The engine, with no patches in view (e.g. object detection, label images): the decoded size alone.
    from ddrcore.errors import ImageReadError
    from ddrcore.io.reading import read_image_groups

    t = time.perf_counter()
    with pytest.raises(ImageReadError, match="over the limit"):
        read_image_groups(bomb)
    assert time.perf_counter() - t < 2


@pytest.mark.slow   # over 1.5 s: the default tier stays under 90 s on 2 cores
def test_stride_1_on_a_large_field_is_refused_before_allocating(model_file, tmp_path):
    data = _field_folder(tmp_path / "data")
    rng = np.random.default_rng(2)
    tifffile.imwrite(data / "field.tif", np.block([[ring_patch(rng) for _ in range(32)] for _ in range(32)]))  # 1024^2
    before = tree_sha(data)
    out = tmp_path / "r.csv"
    rc, err, seconds, peak = cli_capped(["--quiet", "score", model_file, data, "--csv", out, "--stride", "1"])
    assert rc == 0, err
    line = next(ln for ln in err.splitlines() if "field.tif" in ln)
    assert "--stride" in line and "GiB" in line, line
    assert {Path(r["path"]).name for r in _rows(out) if r["rank"]} == {"ring_0.tif", "ring_1.tif", "ring_2.tif"}
    assert seconds < LIMIT_S and peak < 2500 and tree_sha(data) == before
    print(f"--stride 1 on 1024^2: run done in {seconds:.1f} s, peak {peak} MB")


def test_memory_seen_by_the_checks_includes_the_address_space_cap():
    proc, _, _ = run_capped("""
        from ddrcore.io.reading import available_memory
        print('AVAIL', available_memory())
        """)
    avail = int(next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("AVAIL")))
    assert 0 < avail < CAP


def test_local_workers_are_capped_by_cores(capsys):
    from ddrcore.cluster.connect import LOCAL_WORKERS, parse_cluster

    with pytest.raises(ValueError, match="DDRID_MAX_LOCAL_WORKERS"):
        parse_cluster("local:100000")
    with pytest.raises(SystemExit) as e:
        main(["score", "m.ddrid", "d", "--csv", "o.csv", "--cluster", "local:100000"])
    assert e.value.code == 2 and "local:100000" in capsys.readouterr().err
    assert parse_cluster(f"local:{LOCAL_WORKERS.value()}").workers == LOCAL_WORKERS.value()


# --------------------------------------------------------------------------- one bad file costs that file --
def test_a_name_that_is_not_utf8_costs_nothing(model_file, tmp_path, capsys):
    data = _field_folder(tmp_path / "data")
    odd = os.fsdecode(os.fsencode(str(data)) + b"/caf\xe9.tif")          # Latin-1 bytes, not UTF-8
    tifffile.imwrite(odd, ring_patch(np.random.default_rng(9)))
    (data / "broken.tif").write_bytes(b"not a tiff")
    before = tree_sha(data)
    out = tmp_path / "r.csv"
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(out),
                 "--decompositions", str(tmp_path / "dec")]) == 0
    capsys.readouterr()
    rows = _rows(out)                                                     # valid UTF-8 throughout
    paths = {Path(r["path"]).name for r in rows if r["rank"]}
    assert paths == {"ring_0.tif", "ring_1.tif", "ring_2.tif", "caf\\xe9.tif"}
    assert any(n.startswith("rank") and "caf_xe9" in n for n in os.listdir(tmp_path / "dec"))
    assert tree_sha(data) == before


def test_long_input_names_give_valid_decomposition_names(model_file, tmp_path, capsys):
    data = _field_folder(tmp_path / "data", n=1)
    rng = np.random.default_rng(4)
    long_a, long_b = "a" * 240 + "_one.tif", "a" * 240 + "_two.tif"     # 248 bytes; alike for their first 240
    for name in (long_a, long_b):
        tifffile.imwrite(data / name, ring_patch(rng))
    dec = tmp_path / "dec"
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(tmp_path / "r.csv"),
                 "--decompositions", str(dec)]) == 0
    names = os.listdir(dec)
    assert len(names) == 3 and all(len(os.fsencode(n)) <= 255 for n in names)
    assert len({n.split("_", 1)[1] for n in names}) == 3                  # the hash keeps the two apart
    # A CSV whose own name is near the limit: its temp file still fits.
    out = tmp_path / ("r" * 250 + ".csv")
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(out)]) == 0
    assert out.is_file() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()


def test_label_ids_beyond_int64_cost_that_image_only(model_file, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(6)
    for i in range(3):
        field = np.block([[ring_patch(rng) for _ in range(2)] for _ in range(2)])
        tifffile.imwrite(data / f"f{i}.tif", field)
        lab = np.zeros(field.shape, np.uint64)
        lab[4:28, 4:28] = 1
        lab[36:60, 36:60] = 2 ** 63 + 5 if i == 1 else 2
        tifffile.imwrite(data / f"f{i}_masks.tif", lab)
    before = tree_sha(data)
    out = tmp_path / "r.csv"
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(out), "--objects", "labels",
                 "--patch-size", "32"]) == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "f1" in ln)
    assert line.startswith("skipped") and "2**63" in line, err
    assert {Path(r["path"]).name for r in _rows(out) if r["rank"]} == {"f0.tif", "f2.tif"}
    assert tree_sha(data) == before


def test_a_file_that_vanishes_mid_run_is_skipped(model_file, tmp_path, capsys, monkeypatch):
    import ddrcore.io.images as images

    data = _field_folder(tmp_path / "data", n=4)
    real = images.read_file_patches

    def vanishing(path, *a, **k):
        if Path(path).name == "ring_2.tif":
            Path(path).unlink()                          # deleted after it was listed, before it is read
        return real(path, *a, **k)

    monkeypatch.setattr(images, "read_file_patches", vanishing)
    out = tmp_path / "r.csv"
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(out)]) == 0
    err = capsys.readouterr().err
    assert any(ln.startswith("skipped") and "ring_2.tif" in ln and "gone" in ln for ln in err.splitlines()), err
    rows = _rows(out)
    assert {Path(r["path"]).name for r in rows if r["rank"]} == {"ring_0.tif", "ring_1.tif", "ring_3.tif"}
    assert [("ring_2.tif" in r["path"], "gone" in r["note"]) for r in rows if not r["rank"]] == [(True, True)]
    # The note row carries the columns every row repeats (it had only path and note).
    note, ranked = next(r for r in rows if not r["rank"]), rows[0]
    stamp = ("model", "seed", "preprocess_min", "preprocess_max", "score_type", "threshold", "objects", "patch_size")
    assert all(note[c] == ranked[c] != "" for c in stamp), {c: (note[c], ranked[c]) for c in stamp}
    assert note["score"] == note["is_anomaly"] == ""


def test_an_unforeseen_failure_in_one_file_costs_that_file(model_file, tmp_path, capsys, monkeypatch):
    import ddrcore.io.images as images

    data = _field_folder(tmp_path / "data", n=3)
    real = images.read_file_patches

    def breaks(path, *a, **k):
        if Path(path).name == "ring_1.tif":
            raise IndexError("a decoder bug")
        return real(path, *a, **k)

    monkeypatch.setattr(images, "read_file_patches", breaks)
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(tmp_path / "r.csv")]) == 0
    assert "skipped" in capsys.readouterr().err
    assert len([r for r in _rows(tmp_path / "r.csv") if r["rank"]]) == 2


# ------------------------------------------------------------------------------------- space before work --
def test_a_full_disk_is_noticed_before_scoring(model_file, tmp_path, capsys, monkeypatch):
    import shutil

    import ddrcore.model.scoring as scoring

    data = _field_folder(tmp_path / "data")
    monkeypatch.setattr(scoring, "score_patches", lambda *a, **k: pytest.fail("scored before checking the space"))
    usage = type("Usage", (), {"free": 1000, "total": 10**9, "used": 0})
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage())
    out = tmp_path / "r.csv"
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(out),
                 "--decompositions", str(tmp_path / "dec")]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "free" in line and "MB are needed" in line
    # (The output folder itself was made when it was checked for being writable, before any reading.)
    assert not out.exists() and not list((tmp_path / "dec").iterdir())


@pytest.mark.slow   # over 1.5 s: the default tier stays under 90 s on 2 cores
# ------------------------------------------------------------------------------------------------ cluster --
@pytest.mark.timeout(60, func_only=True)  # a hang is what is timed, not the fixtures' training
def test_a_cluster_address_that_is_a_web_server_fails_fast(model_file, test_dir, tmp_path, capsys):
    pytest.importorskip("distributed")
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    out = tmp_path / "r.csv"
    try:
        t = time.perf_counter()
        rc = main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(out), "--cluster", address,
                   "--connect-timeout", "2"])
        seconds = time.perf_counter() - t
    finally:
        server.shutdown()
    line = one_error_line(capsys.readouterr().err)
    assert rc == 1 and address in line and "handshake" in line, line
    assert seconds < 10 and not out.exists()


@pytest.mark.timeout(60, func_only=True)
def test_a_scheduler_file_naming_no_address_says_so(model_file, test_dir, tmp_path, capsys):
    """Handed on to distributed, such a file gave "the reply is not Dask's (TypeError)" though nothing was
    contacted, then a traceback from the half-built client and a 6 s wait at exit.  HOST:PORT without a
    protocol is what --cluster takes, and what distributed reads from such a file: used as tcp://."""
    pytest.importorskip("distributed")
    sched, out = tmp_path / "scheduler.json", tmp_path / "r.csv"
    for text in ('{"address": 5}', "[1, 2]", '{"address": "no-scheme-here"}', "{}", '{"address": "127.0.0.1:9"}'):
        sched.write_text(text)
        rc = main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(out), "--cluster", str(sched),
                   "--connect-timeout", "2"])
        err = capsys.readouterr().err
        assert rc == 1 and "Traceback" not in err and not out.exists(), text
        line = one_error_line(err)
        if "127.0.0.1:9" in text:
            assert "tcp://127.0.0.1:9" in line and "could not connect" in line, line
        else:
            assert str(sched) in line and "names no scheduler address" in line, line


@pytest.mark.slow   # over 2 s: the default tier stays near 90 s on 2 cores
@pytest.mark.timeout(120)   # starts a local Dask cluster of one worker: about 3 s
def test_a_file_that_vanishes_during_a_cluster_run_is_skipped(model_file, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    import ddrcore.cluster.scoring as cluster_scoring

    data = _field_folder(tmp_path / "data", n=4)
    real = cluster_scoring.find_images

    def listed_then_gone(paths):
        files = real(paths)
        (data / "ring_1.tif").unlink()               # gone between the listing and the workers' reading
        return files

    monkeypatch.setattr(cluster_scoring, "find_images", listed_then_gone)
    out = tmp_path / "r.csv"
    assert main(["--quiet", "score", str(model_file), str(data), "--csv", str(out), "--cluster", "local:1"]) == 0
    err = capsys.readouterr().err
    assert any(ln.startswith("skipped") and "ring_1.tif" in ln for ln in err.splitlines()), err
    rows = _rows(out)
    assert {Path(r["path"]).name for r in rows if r["rank"]} == {"ring_0.tif", "ring_2.tif", "ring_3.tif"}
    assert [Path(r["path"]).name for r in rows if not r["rank"]] == ["ring_1.tif"]


@pytest.mark.slow   # over 2 s: the default tier stays near 90 s on 2 cores
def test_a_million_objects_in_one_image_are_refused_before_cutting(model_file, tmp_path):
    """Object crops are counted before they are cut: 300,000 points on one field (4 GB of crops) cost that
    field only, under the cap and in seconds; the other field is scored."""
    data = _field_folder(tmp_path / "data", n=0)
    rng = np.random.default_rng(8)
    for name in ("crowded.tif", "calm.tif"):
        tifffile.imwrite(data / name, np.block([[ring_patch(rng) for _ in range(2)] for _ in range(2)]))
    points = tmp_path / "points.csv"
    yx = rng.uniform(0, 63, (300_000, 2))
    points.write_text("path,y,x\n" + "".join(f"data/crowded.tif,{y:.1f},{x:.1f}\n" for y, x in yx)
                      + "data/calm.tif,20,20\ndata/calm.tif,40,40\n")
    before = {**tree_sha(data), "points": sha(points)}
    out = tmp_path / "r.csv"
    rc, err, seconds, peak = cli_capped(["--quiet", "score", model_file, data, "--csv", out, "--points", points,
                                         "--patch-size", "32"])
    assert rc == 0, err
    line = next(ln for ln in err.splitlines() if "crowded.tif" in ln)
    assert line.startswith("skipped") and "--object-size" in line and "DDRID_MAX_IMAGE_BYTES" in line, line
    assert {Path(r["path"]).name for r in _rows(out) if r["rank"]} == {"calm.tif"}
    assert seconds < LIMIT_S and {**tree_sha(data), "points": sha(points)} == before
    print(f"300,000 points on one field: run done in {seconds:.1f} s, peak {peak} MB")


# ------------------------------------------------------------------------ more of the same principles --
def test_an_output_name_too_long_for_the_file_system_is_refused_before_the_work(model_file, test_dir, tmp_path,
                                                                               capsys, monkeypatch):
    import ddrcore.io.images as images

    monkeypatch.setattr(images, "load_patches", lambda *a, **k: pytest.fail("read images before checking"))
    out = tmp_path / ("r" * 300 + ".csv")
    assert main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(out)]) == 1
    assert "over the 255" in one_error_line(capsys.readouterr().err)


def test_model_pickle_and_project_size_are_bounded_before_parsing(model_file, tmp_path, monkeypatch):
    from ddrcore.io import project as pj
    import ddrcore.io.reading as reading

    monkeypatch.setenv("DDRID_MAX_MODEL_PICKLE_BYTES", "1000")
    with pytest.raises(ModelFileError, match="DDRID_MAX_MODEL_PICKLE_BYTES"):
        modelfile.load(model_file, "cpu")
    monkeypatch.delenv("DDRID_MAX_MODEL_PICKLE_BYTES")
    p = pj.save(pj.Project(inputs=[str(tmp_path / "d")]), tmp_path / "p.ddridproj")
    monkeypatch.setattr(reading, "available_memory", lambda: 1000)
    with pytest.raises(pj.ProjectFileError, match="more than this process can get"):
        pj.load(p)
