"""Saving figures by file extension, atomically (:mod:`embrec.atomic`): PNG and SVG (matplotlib),
HTML (plotly)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from embrec.atomic import write_text, write_with
from embrec.errors import ConfigError
from embrec.extras import require

__all__ = ["new_figure", "save_figure", "figure_png_bytes", "figure_data_uri", "plotly_html"]

#: File extensions matplotlib figures are written as.
STATIC_FORMATS = (".png", ".svg")


def new_figure(figsize: tuple[float, float], **kwargs: Any) -> Any:
    """A matplotlib ``Figure`` on its own Agg canvas: no pyplot, no global state, never shown."""
    require("viz", "a picture", ("matplotlib",))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | Path, *, dpi: int = 150) -> Path:
    """Write a matplotlib figure (``.png``/``.svg``) or a plotly figure (``.html``, plotly.js
    inlined, works offline) to ``path`` atomically. Returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    is_plotly = type(fig).__module__.startswith("plotly")
    if is_plotly:
        if suffix != ".html":
            raise ConfigError(
                f"an interactive figure is saved as .html, not {suffix or 'no extension'!r}; use {path.with_suffix('.html')}."
            )
        return write_text(path, plotly_html(fig))
    if suffix not in STATIC_FORMATS:
        raise ConfigError(f"cannot save a static figure as {suffix or 'no extension'!r}; use .png or .svg.")
    fmt = suffix[1:]
    return write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight"))


def figure_png_bytes(fig: Any, *, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def figure_data_uri(fig: Any, *, dpi: int = 110) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI for self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(figure_png_bytes(fig, dpi=dpi)).decode("ascii")


def plotly_html(fig: Any, *, full_html: bool = True, include_plotlyjs: bool = True, div_id: str | None = None) -> str:
    """A plotly figure as HTML with plotly.js inlined (no CDN), or as a bare ``<div>``."""
    return str(
        fig.to_html(
            full_html=full_html,
            include_plotlyjs=include_plotlyjs,
            include_mathjax=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )
