"""`embrec experiment`: check, run (JSON, rerun reuses), one-line errors with exit status 2 and nothing written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer

from embrec.cli import experiment_cmd
from embrec.testing import tiny_interactions

EXPERIMENT = """
name = "tiny"
seeds = [1, 2]
baseline = "popularity"
metrics = ["ndcg@5", "recall@5"]
[evaluation]
threshold = 3.0
n_resamples = 50
[[datasets]]
path = "ratings.csv"
[[protocols]]
name = "random-90-10"
[models.popularity]
model = "popularity"
[models.ease]
model = "ease"
settings = { weight_decay = 50 }
"""


def embrec(capsys, *argv):
    """Run `embrec ARGV` with the experiment group added, as `embrec.cli.main` adds it."""
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def root() -> None:
        """embrec"""

    experiment_cmd.register(app)
    code = app(args=list(argv), prog_name="embrec", standalone_mode=False)
    captured = capsys.readouterr()
    return (code if isinstance(code, int) else 0), captured


@pytest.fixture
def experiment_file(tmp_path):
    tiny_interactions().to_frame().to_csv(tmp_path / "ratings.csv", index=False)
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT, encoding="utf-8")
    return path


def test_check_counts_the_cells(experiment_file, capsys):
    code, captured = embrec(capsys, "experiment", "check", str(experiment_file))
    assert code == 0, captured.err
    assert "= 4 cells" in " ".join(captured.out.split())
    code, captured = embrec(capsys, "experiment", "check", str(experiment_file), "--json")
    info = json.loads(captured.out)
    assert info["cells"] == 4 and info["baseline"] == "popularity" and info["seeds"] == [1, 2]


def test_run_prints_a_json_summary_and_a_rerun_reuses_the_cells(experiment_file, tmp_path, capsys):
    out = tmp_path / "out"
    code, captured = embrec(capsys, "experiment", "run", str(experiment_file), "--out", str(out), "--json")
    assert code == 0, captured.err
    info = json.loads(captured.out)
    assert info["cells"] == {"total": 4, "computed": 4, "reused": 0}
    assert len(info["results"]) == 2 * 2  # metrics x models
    assert {p.rsplit("/", 1)[-1] for p in info["files"]} >= {"results.csv", "results.json", "results.md", "report.html"}
    code, captured = embrec(capsys, "experiment", "run", str(experiment_file), "--out", str(out), "--json")
    assert code == 0 and json.loads(captured.out)["cells"] == {"total": 4, "computed": 0, "reused": 4}


def test_run_prints_the_tables_and_where_it_wrote(experiment_file, tmp_path, capsys):
    out = tmp_path / "out"
    code, captured = embrec(capsys, "experiment", "run", str(experiment_file), "--out", str(out))
    assert code == 0, captured.err
    assert "popularity (baseline)" in captured.out and "4 cells: 4 computed, 0 reused" in captured.out
    assert str(out) in captured.out.replace("\n", "")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ('model = "ease"', 'model = "easy"', ["unknown model 'easy'"]),
        ('name = "random-90-10"', 'name = "random"', ["not a protocol"]),
        ('metrics = ["ndcg@5", "recall@5"]', 'metrics = ["nDCG@five"]', ["needs a list length"]),
        ('baseline = "popularity"', 'baseline = "pop"', ["baseline = 'pop'"]),
        ("n_resamples = 50", "n_resample = 50", ["unknown key 'n_resample'", "did you mean 'n_resamples'"]),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(experiment_file, tmp_path, capsys, old, new, words):
    experiment_file.write_text(EXPERIMENT.replace(old, new), encoding="utf-8")
    out = tmp_path / "out"
    code, captured = embrec(capsys, "experiment", "run", str(experiment_file), "--out", str(out))
    assert code == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    joined = " ".join(captured.err.split())
    assert joined.startswith("error: ") and "Traceback" not in captured.err, captured.err
    assert len(lines) <= 3  # one message, wrapped by the console at most
    for word in words:
        assert word in joined, joined
    assert not out.exists()


def test_a_missing_file_and_a_bad_out_folder_are_one_line(experiment_file, tmp_path, capsys):
    code, captured = embrec(capsys, "experiment", "run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o"))
    assert code == 2 and "does not exist" in captured.err and not (tmp_path / "o").exists()
    code, captured = embrec(capsys, "experiment", "run", str(experiment_file), "--out", str(experiment_file))
    assert code == 2 and "--out" in captured.err and "is a file" in captured.err
    code, captured = embrec(capsys, "experiment", "run", str(experiment_file), "--out", str(tmp_path))
    assert code == 2 and "holds other files" in " ".join(captured.err.split())


def test_help_of_the_group_imports_nothing_heavy():
    code = (
        "import sys, typer\nfrom embrec.cli import experiment_cmd\n"
        "app = typer.Typer()\n@app.callback()\ndef root():\n    pass\n"
        "experiment_cmd.register(app)\n"
        "for argv in (['experiment', '--help'], ['experiment', 'run', '--help']):\n"
        "    try:\n        app(argv, prog_name='embrec')\n    except SystemExit:\n        pass\n"
        "print('MODULES:' + ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules = set(next(line for line in out.splitlines() if line.startswith("MODULES:"))[8:].split())
    assert "--out" in out
    assert not modules & {"torch", "pandas", "numpy", "scipy", "sklearn", "pyarrow"}
