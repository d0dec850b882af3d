"""Library messages name parameters; the CLI shows them as the running command's flags."""

from __future__ import annotations

from typer.main import get_command

from embrec.cli._common import as_flags
from embrec.cli.main import app

TRAIN = get_command(app).commands["train"]  # type: ignore[attr-defined]


def test_parameters_become_flags() -> None:
    text = "use test_fraction=0.2 or split='user', drop_unseen=False, data= or dataset="
    assert as_flags(text, TRAIN) == "use --test-fraction 0.2 or --split user, --keep-unseen, --data or --dataset"


def test_a_tuple_becomes_the_flags_values() -> None:
    assert as_flags("outside rating_scale=(1.0, 5.0);", TRAIN) == "outside --rating-scale 1.0 5.0;"


def test_python_calls_and_unknown_names_stay() -> None:
    text = "run download_dataset('ml-100k', force=True); my_seed=3; method='temporal'"
    assert as_flags(text, TRAIN) == "run download_dataset('ml-100k', force=True); my_seed=3; --split temporal"


def test_values_that_need_quoting_are_quoted() -> None:
    assert (
        as_flags("sep=';' is not the delimiter", get_command(app).commands["split"]) == "--sep ';' is not the delimiter"
    )  # type: ignore[attr-defined]


def test_none_is_the_flags_lower_case_none() -> None:
    assert as_flags("pass title_col=None or rating_col=None", TRAIN) == "pass --title-col none or --rating-col none"
