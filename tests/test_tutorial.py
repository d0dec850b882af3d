"""docs/tutorial.md runs: its ```python blocks in order in one namespace, its ```bash blocks that
start with ``embrec`` through the CLI, and every ```text block right after a code block must be
what that code printed (numbers within 2%, everything else exactly). So the tutorial cannot
drift from the code.

To refresh the printed outputs and the pictures after a deliberate change, run::

    EMBREC_UPDATE_TUTORIAL=1 EMBREC_DATA_DIR=../shared/data .venv/bin/python -m pytest tests/test_tutorial.py -m slow

which rewrites the ```text blocks and the PNGs under docs/images/ that the tutorial shows.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import real_dataset

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
IMAGES = ROOT / "docs" / "images"
UPDATE = os.environ.get("EMBREC_UPDATE_TUTORIAL") == "1"
MAX_IMAGE_BYTES = 300_000
_FENCE = re.compile(r"^```([A-Za-z]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_NUMBER = re.compile(r"[-+]?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?")
_IMAGE = re.compile(r"!\[[^\]]*\]\(images/([^)]+)\)")


@dataclass
class Block:
    lang: str
    code: str
    start: int  # offsets of the code inside the markdown
    end: int


def blocks(text: str) -> list[Block]:
    return [Block(m.group(1), m.group(2), m.start(2), m.end(2)) for m in _FENCE.finditer(text)]


def expected_after(text: str, blocks_: list[Block], i: int) -> Block | None:
    """The ```text block right after block ``i`` (only blank lines between), if any."""
    if i + 1 >= len(blocks_) or blocks_[i + 1].lang != "text":
        return None
    between = text[text.index("```", blocks_[i].end) + 3 : blocks_[i + 1].start]
    between = between.split("\n", 1)[1] if "\n" in between else ""
    return blocks_[i + 1] if between.strip().replace("```text", "") == "" else None


def _numbers(line: str) -> tuple[list[str], list[float]]:
    parts = _NUMBER.split(line)
    nums = [float(n.replace(",", "")) for n in _NUMBER.findall(line)]
    return parts, nums


def same_output(expected: str, actual: str) -> str | None:
    """``None`` when they agree; else the first line that differs."""
    exp = [line.rstrip() for line in expected.strip("\n").splitlines()]
    act = [line.rstrip() for line in actual.strip("\n").splitlines()]
    if len(exp) != len(act):
        return f"{len(act)} lines printed, the tutorial shows {len(exp)}:\n" + "\n".join(act)
    for e, a in zip(exp, act):
        if e == a:
            continue
        (e_text, e_nums), (a_text, a_nums) = _numbers(e), _numbers(a)
        close = len(e_nums) == len(a_nums) and all(
            abs(x - y) <= max(0.02 * abs(x), 1e-9) or abs(x - y) <= 1.5 * 10 ** -_decimals(e, x)
            for x, y in zip(e_nums, a_nums)
        )
        # numbers may change their printed width a little: compare the words without spaces
        if not close or [t.replace(" ", "") for t in e_text] != [t.replace(" ", "") for t in a_text]:
            return f"tutorial: {e!r}\nprinted:  {a!r}"
    return None


def _decimals(line: str, value: float) -> int:
    for token in _NUMBER.findall(line):
        if float(token.replace(",", "")) == value:
            return len(token.split(".")[1]) if "." in token else 0
    return 0


def run_bash(code: str) -> str:
    """Run each ``embrec ...`` line through the CLI; returns what they printed."""
    import typer
    from typer.testing import CliRunner

    from embrec.cli import main as cli_main

    app: typer.Typer = cli_main.app
    names = {c.name for c in app.registered_commands}
    if "report" not in names:  # until cli/main.py registers the viz commands
        from embrec.cli import viz_cmd

        viz_cmd.register(app)
    runner = CliRunner()
    out = []
    for line in code.splitlines():
        line = line.split("  #")[0].strip()
        if not line or line.startswith("#"):
            continue
        args = shlex.split(line)
        assert args[0] == "embrec", f"a bash block that runs must hold only embrec commands, got {line!r}"
        result = runner.invoke(app, args[1:])
        assert result.exit_code == 0, f"{line} failed:\n{result.output}"
        out.append(result.output)
    return "".join(out)


def _compress(src: Path, dst: Path) -> None:
    from PIL import Image

    image = Image.open(src).convert("RGB")
    if image.width > 1400:
        image = image.resize((1400, round(image.height * 1400 / image.width)), Image.LANCZOS)
    # a 256-colour octree palette keeps the genre colours apart and the file small
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(dst, optimize=True)


def _screenshot_report(cwd: Path) -> None:
    """The report's first screen and its map, for the docs (update mode only)."""
    from viz.helpers import CHROMIUM, CHROMIUM_ARGS

    report = cwd / "report.html"
    if not report.exists() or not CHROMIUM.exists():
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(report.resolve().as_uri())
        page.wait_for_timeout(1500)
        page.screenshot(path=str(cwd / "tutorial_report.png"))
        page.locator("#evaluation").screenshot(path=str(cwd / "tutorial_report_evaluation.png"))
        browser.close()


@pytest.mark.slow
@pytest.mark.realdata
def test_tutorial_runs_and_shows_what_it_prints(monkeypatch):
    real_dataset("ml-latest-small")  # the tutorial loads it by name; skip (never download) when absent
    from embrec.cli._common import console

    text = TUTORIAL.read_text(encoding="utf-8")
    found = blocks(text)
    assert any(b.lang == "python" for b in found) and any(b.lang == "bash" for b in found)
    namespace: dict[str, object] = {"__name__": "tutorial"}
    replacements: list[tuple[Block, str]] = []
    problems: list[str] = []
    old_width = console._width
    with tempfile.TemporaryDirectory(prefix="embrec-tutorial-") as tmp:
        cwd = Path(tmp)
        monkeypatch.chdir(cwd)
        console.width = 100  # rich tables as the tutorial shows them, whatever the terminal
        try:
            for i, block in enumerate(found):
                if block.lang == "python":
                    buffer = io.StringIO()
                    with contextlib.redirect_stdout(buffer):
                        exec(compile(block.code, f"{TUTORIAL.name}:block{i}", "exec"), namespace)  # noqa: S102
                    printed = buffer.getvalue()
                elif block.lang == "bash" and block.code.lstrip().startswith("embrec"):
                    printed = run_bash(block.code)
                else:
                    continue
                expected = expected_after(text, found, i)
                if expected is None:
                    continue
                if UPDATE:
                    replacements.append(
                        (expected, "\n".join(line.rstrip() for line in printed.strip("\n").splitlines()) + "\n")
                    )
                else:
                    diff = same_output(expected.code, printed)
                    if diff:
                        problems.append(f"block {i} ({block.lang}):\n{diff}")
        finally:
            console._width = old_width
        images = _IMAGE.findall(text)
        if UPDATE:
            _screenshot_report(cwd)
            for name in images:
                if (cwd / name).exists():
                    _compress(cwd / name, IMAGES / name)
            for block, new in sorted(replacements, key=lambda r: r[0].start, reverse=True):
                text = text[: block.start] + new + text[block.end :]
            from embrec.atomic import write_text

            write_text(TUTORIAL, text)
        for name in images:
            if not name.startswith("tutorial_report"):
                assert (cwd / name).exists(), f"the tutorial shows images/{name} but its code did not write {name}"
    assert not problems, "docs/tutorial.md shows output its code no longer prints:\n\n" + "\n\n".join(problems)
    for name in images:
        path = IMAGES / name
        assert path.exists(), f"docs/images/{name} is missing; run with EMBREC_UPDATE_TUTORIAL=1"
        assert path.stat().st_size < MAX_IMAGE_BYTES, f"docs/images/{name} is {path.stat().st_size:,} bytes"


def test_output_comparison():
    assert same_output("mean 0.631 over 610 users", "mean 0.634 over 610 users") is None
    assert same_output("mean 0.631 over 610 users", "mean 0.731 over 610 users") is not None
    assert same_output("Shawshank  4.43", "Shawshank  4.43\n") is None
    assert same_output("Shawshank 4.43", "Godfather 4.43") is not None
    assert same_output("a\nb", "a") is not None
    assert same_output("9,724 films", "9,724 films") is None


def test_tutorial_blocks_parse():
    text = TUTORIAL.read_text(encoding="utf-8")
    found = blocks(text)
    langs = {b.lang for b in found}
    assert {"python", "bash", "text"} <= langs
    python = "\n".join(b.code for b in found if b.lang == "python")
    compile(python, "tutorial", "exec")  # the code is valid Python even where it is not run
    for name in _IMAGE.findall(text):
        assert (IMAGES / name).exists(), f"docs/images/{name} is missing"
