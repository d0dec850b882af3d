"""Helpers shared by the command groups: one-line errors, JSON output, consoles.

Library errors name parameters (``test_fraction=0.5``, ``split='temporal'``); :func:`cli_errors`
rewrites each one that is an option of the running command into its flag (``--test-fraction 0.5``,
``--split temporal``), so a message always speaks the language of whoever reads it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import re
import shlex
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from embrec.errors import EmbrecError

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


#: The click context of the command running now (set by :func:`cli_errors`).
_CONTEXT: contextvars.ContextVar[typer.Context | None] = contextvars.ContextVar("embrec_cli_context", default=None)
_CTX_PARAM = "_embrec_ctx"


def replace_signature(
    wrapper: Any, func: Callable[..., Any], *, drop: tuple[str, ...] = (), add: list[inspect.Parameter] | None = None
) -> None:
    """Give ``wrapper`` the signature Typer should read: ``func``'s, less ``drop``, plus ``add``.

    Annotations are resolved where ``func`` was written, so ``Annotated`` options keep their flags.
    """
    signature = inspect.signature(func, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name not in drop]
    params = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    params += [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY] + list(add or [])
    wrapper.__signature__ = signature.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}


def cli_errors(func: F) -> F:
    """Turn an :class:`EmbrecError` into one red line on stderr and exit code 2, no traceback.

    Parameter names in the message become the command's flags (:func:`as_flags`).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _CONTEXT.set(kwargs.pop(_CTX_PARAM, None))
        try:
            return func(*args, **kwargs)
        except EmbrecError as exc:
            message = escape(as_flags(str(exc)))  # a message is text: "[viz]" in it is no markup
            err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted[/]; nothing was written.")
            raise typer.Exit(code=130) from None
        finally:
            _CONTEXT.reset(token)

    ctx_param = inspect.Parameter(_CTX_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    replace_signature(wrapper, func, add=[ctx_param])
    return wrapper  # type: ignore[return-value]


def given(name: str) -> bool:
    """Whether the option ``name`` of the running command was typed (not left at its default)."""
    ctx = _CONTEXT.get()
    source = ctx.get_parameter_source(name) if ctx is not None else None
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


#: Library parameter names that the command line spells differently (``make_split(method=...)`` is ``--split``).
_ALIASES = {"split": ("method",)}
_VALUE = r"""(?:\(([^()]*)\)|'([^']*)'|"([^"]*)"|([^\s,;)]*[^\s,;).]))?"""


def _inside_a_call(text: str, position: int) -> bool:
    """Whether ``position`` lies inside the parentheses of a call such as ``f(a, b=1)``."""
    depth = 0
    for i in range(position - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            if depth == 0:
                return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
            depth -= 1
    return False


def as_flags(message: str, command: Any = None) -> str:
    """``message`` with each ``name=value`` of an option of ``command`` (default: the running one)
    written as that option's flag, ``--name value``."""
    if command is None:
        ctx = _CONTEXT.get()
        command = ctx.command if ctx is not None else None
    if command is None:
        return message
    for param in command.params:
        if getattr(param, "param_type_name", None) != "option" or not param.name:
            continue
        flag = max(param.opts, key=len)
        off = max(param.secondary_opts, key=len) if param.secondary_opts else None

        def spelled(
            match: re.Match[str], flag: str = flag, off: str | None = off, is_flag: bool = param.is_flag
        ) -> str:
            if _inside_a_call(match.string, match.start()):
                return match.group(0)  # download_dataset('ml-100k', force=True) is Python, not a flag
            if match.group(1) is not None:  # a tuple such as rating_scale=(1.0, 5.0): --rating-scale 1.0 5.0
                return " ".join([flag, *(shlex.quote(v.strip()) for v in match.group(1).split(",") if v.strip())])
            value = next((g for g in match.groups() if g is not None), None)
            if is_flag and value in ("True", "False"):
                return flag if value == "True" or off is None else off
            if value == "None":  # title_col=None: the flags spell "no column" in lower case
                value = "none"
            return flag if not value else f"{flag} {shlex.quote(value)}"

        for name in (param.name, *_ALIASES.get(param.name, ())):
            message = re.sub(rf"(?<![\w.\-]){re.escape(name)}={_VALUE}", spelled, message)
    return message


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy here
        return value.tolist()
    return str(value)


def print_json(obj: Any) -> None:
    """Write one JSON document to stdout (plain, so it can be piped into jq)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()
