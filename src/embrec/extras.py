"""The optional extras: which parts of embrec need which packages, and one line when one is missing.

The core (data, splits, models, metrics, the CLI) needs only what ``pip install embrec`` brings.
The rest is behind extras, installed with ``pip install 'embrec[NAME]'`` (``embrec[all]`` for
every one; ``make setup`` installs them all):

* ``serve``: the web service and its page (FastAPI, uvicorn, SQLAlchemy, psycopg, Swagger UI's files).
* ``viz``: pictures and the HTML report (matplotlib, plotly, UMAP, Jinja2).
* ``implicit``: the ALS and BPR baselines (the ``implicit`` library).
* ``ann``: approximate nearest-neighbour retrieval (faiss).
* ``tune``: hyperparameter search, ``embrec tune`` (Optuna).

Code that needs an extra calls :func:`require` first, so a missing one is a single line naming
the extra instead of a ``ModuleNotFoundError`` traceback. Keep this table in step with
``[project.optional-dependencies]`` in ``pyproject.toml`` (a test compares them).
"""

from __future__ import annotations

import importlib.util

from embrec.errors import MissingExtraError

__all__ = ["EXTRAS", "require"]

#: extra -> the modules it provides (import names, one per distribution of the extra).
EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "fastapi_offline", "uvicorn", "sqlalchemy", "psycopg"),
    "viz": ("matplotlib", "plotly", "umap", "jinja2"),
    "implicit": ("implicit",),
    "ann": ("faiss",),
    "tune": ("optuna",),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that fails to import, or a module without a spec
        return False


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`MissingExtraError` unless the ``extra`` that ``what`` needs is installed.

    ``modules`` narrows the check to some of the extra's modules (a picture needs matplotlib,
    not UMAP).
    """
    for module in modules if modules is not None else EXTRAS[extra]:
        if not _installed(module):
            raise MissingExtraError(
                f"{what} needs the {extra!r} extra, which is not installed (no module {module!r}): "
                f"pip install 'embrec[{extra}]'."
            )
