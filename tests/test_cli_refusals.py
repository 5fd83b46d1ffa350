"""A user's mistake around the stages, not in their inputs, is one line and exit 2 too: a log that names a
folder, a record of the pipeline's left empty or cut short. Through the command line's main, in process."""

from __future__ import annotations

import pytest

from conftest import main_in_process, write_params


def refused(capsys, *args: str, cwd) -> str:
    """The one line `evstation args` answers with, exiting 2 without a traceback."""
    capsys.readouterr()
    assert main_in_process("--quiet", *args, cwd=cwd) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evstation: error: ") and "Traceback" not in err, err[-2000:]
    return lines[0]


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_a_log_that_cannot_be_written_is_one_line(tmp_path, capsys, where):
    write_params(tmp_path)
    if where == "a folder":
        log = tmp_path / "logs"
        log.mkdir()
        expected = "--log: is a folder, not a file"
    else:
        (tmp_path / "logs").write_text("a file\n")
        log = tmp_path / "logs" / "build.log"
        expected = "--log: cannot be written"
    line = refused(capsys, "--log", str(log), "build-dataset", cwd=tmp_path)
    assert f"{log}: {expected}" in line, line
    assert not (tmp_path / "data").exists(), "nothing ran"
