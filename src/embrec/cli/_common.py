"""Helpers shared by the command groups: one-line errors, JSON output, consoles."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, TypeVar

import numpy as np
import typer
from rich.console import Console

from embrec.errors import EmbrecError

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def cli_errors(func: F) -> F:
    """Turn an :class:`EmbrecError` into one red line on stderr and exit code 2, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EmbrecError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted[/]; nothing was written.")
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def print_json(obj: Any) -> None:
    """Write one JSON document to stdout (plain, so it can be piped into jq)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()
