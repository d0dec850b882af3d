"""The README's examples stay true: its Python runs, and every `embrec` command it shows exists."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
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


def shell_lines() -> list[str]:
    """The README's shell lines in order: every ``embrec`` command and the lines that make their inputs."""
    lines = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            code = line.split("  #", 1)[0].strip()
            if code.startswith(("embrec ", "printf ")):
                lines.append(code)
    return lines


def _own_files(folder: Path) -> None:
    """The ratings.csv and items.csv of "Your own data": uid, sku, stars; sku, name, tags; and the
    clone's examples/ folder, which the experiment line reads."""
    shutil.copytree(README.parent / "examples", folder / "examples")
    rows = [f"u{u},s{(u * 7 + 3 * j) % 30},{1 + (u + j) % 5}" for u in range(40) for j in range(8)]
    (folder / "ratings.csv").write_text("uid,sku,stars\n" + "\n".join(rows) + "\n")
    names = [f"s{i},Thing {i},{'a|b' if i % 2 else 'c'}" for i in range(30)]
    (folder / "items.csv").write_text("sku,name,tags\n" + "\n".join(names) + "\n")


@pytest.mark.slow
def test_the_tour_runs_in_order_as_written(tmp_path):
    """Every command of the README, in its order, in a fresh folder (as a new user after activate)."""
    for name in ("ml-100k", "ml-latest-small"):
        real_dataset(name)  # the tour reads both by name; skip (never download) when absent
    _own_files(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for line in shell_lines():
        if line.startswith("embrec serve"):
            continue  # blocks; tests/service starts the server for real
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"`{line}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, line
    for made in (
        "runs/temporal/embrec.json",
        "top10.csv",
        "recs.csv",
        "eval.md",
        "report.html",
        "map.png",
        "exp/random-90-10/report.html",
    ):
        assert (tmp_path / made).is_file(), made
