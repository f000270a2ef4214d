"""CLI usability (issue 11, item 12): help on every option, plain errors, plurals, created folders."""
import argparse

import numpy as np
import pytest

from ddrcore import cli


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


@pytest.mark.parametrize("command", ["train", "score", "objects", "info", "demo"])
def test_every_option_has_help(command):
    sub = _subparsers(cli.build_parser())[command]
    missing = [a.option_strings or [a.dest] for a in sub._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help and a.help.strip())]
    assert missing == [], f"ddrid {command}: no help text for {missing}"


def test_info_on_a_non_model_says_so_without_internal_numbers(tmp_path, capsys):
    import zipfile

    bad = tmp_path / "notimage.tif"
    bad.write_bytes(b"II*\x00 this is not a model")
    assert cli.main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "not a ddrid model file" in err
    # A zip archive torch cannot read: torch's message (a bare record number) must not reach the user.
    odd = tmp_path / "odd.ddrid"
    with zipfile.ZipFile(odd, "w") as z:
        z.writestr("x/data.pkl", b"garbage")
    assert cli.main(["info", str(odd)]) == 1
    err = capsys.readouterr().err
    assert "not a ddrid model file" in err and "(" not in err.split("not a ddrid model file", 1)[1].split("(save")[0]


def test_plural():
    assert cli.plural(1, "patch") == "1 patch"
    assert cli.plural(2, "patch") == "2 patches"
    assert cli.plural(1, "file") == "1 file" and cli.plural(3, "file") == "3 files"


def test_objects_says_created_folder_and_plurals(tmp_path, capsys):
    import tifffile

    img = np.zeros((64, 64), np.uint16)
    yy, xx = np.mgrid[:64, :64]
    img[(yy - 32) ** 2 + (xx - 32) ** 2 < 36] = 1000
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / "a.tif", img)
    out = tmp_path / "new" / "deeper" / "objects.csv"
    assert cli.main(["--quiet", "objects", str(tmp_path / "in"), "--csv", str(out), "--object-size", "12"]) == 0
    cap = capsys.readouterr()
    assert out.is_file()
    assert f"created folder {tmp_path / 'new'}" in cap.err
    assert "1 object in 1 file" in cap.out


def test_the_progress_line_shows_a_file_name_with_its_control_characters_escaped():
    # The bar names the file being read: a name with a line break or an escape sequence reached the terminal.
    import io

    from ddrcore.console import ProgressPrinter
    from ddrcore.progress import Progress

    out = io.StringIO()
    printer = ProgressPrinter(out)
    printer(Progress("load", step=1, steps=1, overall=1.0, message="esc\x1b[2Jred.tif"))
    printer(Progress("score", step=1, steps=1, overall=1.0, message="bad\nskipped fake.tif"))
    text = out.getvalue()
    assert "\x1b" not in text and "esc\\x1b[2Jred.tif" in text and len(text.splitlines()) == 2, text
