"""The core works without the extras, and a missing extra is one line naming it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from embrec import extras
from embrec.cli.main import main
from embrec.errors import MissingExtraError

ROOT = Path(__file__).resolve().parents[1]

#: distribution name -> import name, where they differ
IMPORT_NAMES = {
    "umap-learn": "umap",
    "scikit-learn": "sklearn",
    "fastapi-offline": "fastapi_offline",
    "faiss-cpu": "faiss",
}

#: Blocks the extras' modules in a fresh interpreter, as if they were not installed.
WITHOUT_EXTRAS = """
import sys
blocked = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A small ratings file and an embedding run trained on it (outside each test's tmp_path)."""
    from embrec.testing import tiny_interactions

    folder = tmp_path_factory.mktemp("tiny-run")
    csv = folder / "ratings.csv"
    tiny_interactions().to_frame().to_csv(csv, index=False)
    assert main(["train", "--data", str(csv), "--out", str(folder / "run"), "--epochs", "2", "--json"]) == 0
    return {"csv": csv, "run": folder / "run"}


def _declared() -> dict[str, list[str]]:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return {name: table[name] for name in extras.EXTRAS}


def test_the_table_of_extras_matches_pyproject():
    declared = _declared()
    for extra, modules in extras.EXTRAS.items():
        names = [re.split(r"[\[<>=~! ]", req, maxsplit=1)[0] for req in declared[extra]]
        assert sorted(IMPORT_NAMES.get(n, n) for n in names) == sorted(modules), extra
    everything = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["all"]
    assert everything == [f"embrec[{','.join(extras.EXTRAS)}]"]


def test_the_core_trains_recommends_and_evaluates_without_any_extra(tmp_path):
    blocked = sorted({m for modules in extras.EXTRAS.values() for m in modules})
    code = (
        WITHOUT_EXTRAS.format(blocked=blocked)
        + """
import embrec
from embrec.testing import tiny_interactions
split = embrec.make_split(tiny_interactions(), "random", test_fraction=0.2, seed=1)
model = embrec.create("embedding", epochs=2).fit(split.train)
model.save(sys.argv[1])
print(embrec.evaluate([embrec.load(sys.argv[1])], split).models[0].summary["ndcg"].mean >= 0)
try:
    embrec.create("als").fit(split.train)
except embrec.errors.MissingExtraError as exc:
    print(exc)
"""
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "True"
    assert (
        lines[1].startswith("the ALS and BPR baselines needs the 'implicit' extra") and "embrec[implicit]" in lines[1]
    )


@pytest.mark.parametrize(
    ("missing", "argv", "needle"),
    [
        ("implicit", ["train", "--model", "als"], "the ALS and BPR baselines needs the 'implicit' extra"),
        ("matplotlib", ["plot", "curves", "RUN", "--out", "OUT/c.png"], "a picture needs the 'viz' extra"),
        ("jinja2", ["report", "RUN", "--out", "OUT/r.html"], "the HTML report needs the 'viz' extra"),
        ("fastapi", ["serve", "RUN", "--db", "sqlite:///OUT/db.sqlite"], "embrec serve needs the 'serve' extra"),
    ],
)
def test_a_missing_extra_is_one_line_at_the_cli(missing, argv, needle, tmp_path, monkeypatch, capsys, tiny_run):
    real = extras._installed
    monkeypatch.setattr(extras, "_installed", lambda module: module != missing and real(module))
    argv = [a.replace("RUN", str(tiny_run["run"])).replace("OUT", str(tmp_path)) for a in argv]
    if argv[0] == "train":
        argv += ["--data", str(tiny_run["csv"]), "--out", str(tmp_path / "als"), "--json"]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert needle in line and f"no module {missing!r}" in line and "pip install 'embrec[" in line
    assert not list(tmp_path.iterdir())  # nothing written


def test_missing_extra_is_an_import_error_too():
    with pytest.raises(ImportError, match="embrec\\[viz\\]"):
        extras.require("viz", "x", ("no_such_module_embrec_test",))
    assert issubclass(MissingExtraError, ImportError)
