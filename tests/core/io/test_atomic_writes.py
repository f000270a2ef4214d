import os
import stat

import pytest

from ddrcore.io.atomic import atomic_path, write_text_atomic


def test_atomic_write_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out.csv"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_outputs_follow_the_umask_not_0600(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    target = tmp_path / "shared.csv"
    write_text_atomic(target, "x\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
