"""The ``embrec`` command: one Typer app, one module per command group."""

from __future__ import annotations

import sys

import typer

from embrec.cli import (
    data_cmd,
    datasets_cmd,
    demo_cmd,
    evaluate_cmd,
    experiment_cmd,
    model_cmd,
    serve_cmd,
    split_cmd,
    tune_cmd,
    viz_cmd,
)

app = typer.Typer(
    name="embrec",
    help="Embedding-based recommendation: data, training, recommendations, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(
    datasets_cmd.app,
    name="datasets",
    help="List, describe and download the built-in MovieLens datasets, or draw planted synthetic ones.",
)
app.add_typer(data_cmd.app, name="data", help="Inspect ratings data.")
split_cmd.register(app)
model_cmd.register(app)
tune_cmd.register(app)
experiment_cmd.register(app)
evaluate_cmd.register(app)
viz_cmd.register(app)
serve_cmd.register(app)
demo_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run ``embrec``; a mistake on the command line is one line on stderr and exit status 2.

    Click's own errors (an unknown option, a value out of its range, a missing argument) would
    otherwise print a boxed panel; they get the same one-line form as embrec's errors.
    """
    try:
        result = app(args=argv, prog_name="embrec", standalone_mode=False)
    except typer.TyperException as exc:  # Click's errors, vendored by Typer, derive from it
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            return 0
        where = f"{ctx.command_path}: " if ctx is not None else ""
        hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        message = message.replace("Value error, ", "") + _given(exc)
        typer.echo(f"error: {where}{message.rstrip('.')}{hint}.", err=True)
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        typer.echo("interrupted; nothing was written.", err=True)
        return 130
    return result if isinstance(result, int) else 0


def _given(exc: BaseException) -> str:
    """`` (got VALUE)`` where Typer's range check names the rule but not the value refused."""
    errors = getattr(exc.__cause__, "errors", None)
    try:
        value = errors()[0]["input"] if callable(errors) else None
    except (IndexError, KeyError, TypeError):
        value = None
    return f" (got {value})" if value is not None and str(value) not in str(exc) else ""


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
