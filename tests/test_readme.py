"""The README's examples stay true: its Python runs, and every `embrec` command it shows exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import real_dataset
from embrec.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def embrec_lines() -> list[list[str]]:
    lines = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():  # a line continued with a backslash is one
            line = line.split("#", 1)[0].strip()
            if line.startswith("embrec "):
                lines.append(shlex.split(line)[1:])
    return lines


@pytest.mark.parametrize("argv", embrec_lines(), ids=lambda a: " ".join(a[:2]))
def test_every_command_in_the_readme_exists(argv):
    words = [w for w in argv if not w.startswith("-")][:2]
    # a sub-command group ("datasets list") or a command with an argument ("recommend RUN")
    result = CliRunner().invoke(app, [*words, "--help"])
    if result.exit_code != 0:
        result = CliRunner().invoke(app, [words[0], "--help"])
    assert result.exit_code == 0, (argv, result.output)
    options = {w.split("=")[0] for w in argv if w.startswith("--")}
    for option in options:
        assert option in result.output, f"{option} of `embrec {' '.join(argv)}` is not an option"


@pytest.mark.slow
def test_the_python_example_runs(tmp_path, monkeypatch):
    real_dataset("ml-latest-small")  # the example loads it by name; skip (never download) when absent
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks("python"):
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert (tmp_path / "runs" / "mine" / "embrec.json").is_file()
