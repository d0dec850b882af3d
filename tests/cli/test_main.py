"""The ``embrec`` entry point: Click's own errors are one line, like embrec's, never a boxed panel."""

from __future__ import annotations

import subprocess
import sys

import pytest

from embrec.cli.main import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["recommend", "runs/x", "--n", "0"], "'--n': Input should be greater than or equal to 1 (got 0)"),
        (
            ["train", "--out", "x", "--embedding-dim", "0"],
            "'--embedding-dim': Input should be greater than or equal to 1 (got 0)",
        ),
        (["train", "--out", "x", "--split", "bogus"], "'--split': 'bogus' is not one of 'random'"),
        (["train", "--out", "x", "--epochs", "x"], "unable to parse string as an integer (got x)"),
        (["recommend", "runs/x", "--k", "3"], "No such option: --k (Possible options: --n)"),
        (["recommend"], "Missing argument 'run'"),
    ],
)
def test_a_command_line_mistake_is_one_line_naming_the_value(argv, expected, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"error: embrec {argv[0]}: ") and expected in line, line
    assert line.endswith(f"see `embrec {argv[0]} --help`.")
    assert "╭" not in err and "Traceback" not in err


def test_an_embrec_error_keeps_its_own_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: no run folder at")


def test_python_dash_m_embrec_is_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "embrec", "models", "--n"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and done.stderr.startswith("error: embrec models: No such option: --n")
