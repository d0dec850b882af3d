"""The ``embrec`` command: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from embrec.cli import data_cmd, datasets_cmd, demo_cmd, evaluate_cmd, model_cmd, serve_cmd, split_cmd, viz_cmd

app = typer.Typer(
    name="embrec",
    help="Embedding-based recommendation: data, training, recommendations, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(datasets_cmd.app, name="datasets", help="List, describe and download the built-in MovieLens datasets.")
app.add_typer(data_cmd.app, name="data", help="Inspect ratings data.")
split_cmd.register(app)
model_cmd.register(app)
evaluate_cmd.register(app)
viz_cmd.register(app)
serve_cmd.register(app)
demo_cmd.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
