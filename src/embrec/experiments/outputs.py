"""The files of a finished run: the comparison as CSV, JSON and Markdown, a plot per table, one HTML report.

Everything is written atomically (:mod:`embrec.atomic`) into the run's folder:

* ``results.csv``: the comparison table, one row per dataset, protocol, metric and model.
* ``results.json``: the experiment as checked, the cell counts, the rules of the intervals and
  tests, and the same rows (NaN as ``null``).
* ``results.md``: per dataset x protocol, the means with intervals and the tests against the baseline.
* ``plots/<dataset>__<protocol>.png``: the means with their intervals, a panel per metric
  (needs matplotlib, the ``viz`` extra; else left out with a note).
* ``report.html``: all of it on one page that works offline, plots inlined (needs Jinja2 and
  matplotlib, the ``viz`` extra; else left out with a note).
* ``experiment.toml``: the experiment file as it was run.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from embrec.atomic import write_text
from embrec.evaluation.stats import format_interval, format_p_value
from embrec.experiments.compare import INTERVAL_RULE, TEST_RULE

if TYPE_CHECKING:
    from embrec.experiments.runner import ExperimentRun

__all__ = ["Section", "sections", "results_markdown", "write_outputs"]


@dataclass
class Section:
    """One dataset x protocol table, formatted for Markdown and HTML.

    Attributes:
        dataset: the dataset's label.
        protocol: the protocol's name.
        setting: one sentence: folds, seeds, cells per model, what counts as relevant.
        metrics: the metric columns.
        means: one row per model: ``model``, ``baseline`` (bool), ``values`` (``mean [lo, hi]`` per metric).
        comparisons: one row per model and metric against the baseline: ``model``, ``metric``,
            ``difference``, ``pairs``, ``test``, ``p_value``, ``p_wilcoxon``, ``significant`` (p-values Holm-adjusted).
        n_tests: how many comparisons the Holm correction counts.
        untested: metrics with a comparison that could not be made (no value for the baseline or the model).
        frame: the rows of the comparison table behind it.
    """

    dataset: str
    protocol: str
    setting: str
    metrics: list[str]
    means: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    n_tests: int
    untested: list[str]
    frame: pd.DataFrame

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.dataset}__{self.protocol}")


def _signed(mean: float, low: float, high: float, digits: int = 4) -> str:
    if not math.isfinite(mean):
        return "-"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def sections(run: ExperimentRun) -> list[Section]:
    """The run's comparison table cut into its dataset x protocol tables, formatted."""
    experiment = run.experiment
    out = []
    for dataset in experiment.datasets:
        for protocol in experiment.protocols:
            frame = run.table[(run.table["dataset"] == dataset.label) & (run.table["protocol"] == protocol.name)]
            if frame.empty:
                continue
            metrics = list(dict.fromkeys(frame["metric"]))
            relevant = (
                "every test item is relevant"
                if protocol.threshold is None
                else f"relevant: test ratings >= {protocol.threshold:g} (on implicit data, every test item)"
            )
            cells = protocol.n_folds * len(experiment.seeds)
            setting = (
                f"{protocol.n_folds} fold(s) x {len(experiment.seeds)} seed(s) = {cells} cell(s) per model; {relevant}; "
                f"{experiment.evaluation.level:.0%} t-intervals over cells."
            )
            means = []
            for model in experiment.models:
                rows = frame[frame["model"] == model.label].set_index("metric")
                values = [
                    format_interval(float(rows.at[m, "mean"]), float(rows.at[m, "low"]), float(rows.at[m, "high"]))
                    if m in rows.index
                    else "-"
                    for m in metrics
                ]
                means.append({"model": model.label, "baseline": model.label == experiment.baseline, "values": values})
            tested = frame[~frame["is_baseline"].astype(bool)]
            comparisons = [
                {
                    "model": row.model,
                    "metric": row.metric,
                    "difference": _signed(row.difference, row.difference_low, row.difference_high),
                    "pairs": "-" if not row.pairs else f"{int(row.pairs):,} {row.paired_over}",
                    "test": "paired bootstrap" if row.test == "bootstrap" else "paired t",
                    "p_value": format_p_value(float(row.p_value_holm)),
                    "p_wilcoxon": format_p_value(float(row.p_wilcoxon_holm)),
                    "significant": bool(row.significant) if row.significant is not None else False,
                }
                for row in tested.itertuples(index=False)
                if row.pairs
            ]
            untested = sorted({str(row.metric) for row in tested.itertuples(index=False) if not row.pairs})
            n_tests = int(tested["p_value"].notna().sum())
            out.append(
                Section(dataset.label, protocol.name, setting, metrics, means, comparisons, n_tests, untested, frame)
            )
    return out


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|")


def results_markdown(run: ExperimentRun, parts: list[Section] | None = None) -> str:
    """The comparison as Markdown: per table the means with intervals, then the tests against the baseline."""
    experiment = run.experiment
    lines = [f"# {_md(experiment.name)}", ""]
    if experiment.description:
        lines += [experiment.description, ""]
    lines += [
        f"Seeds {', '.join(map(str, experiment.seeds))}; baseline **{_md(experiment.baseline)}**; "
        f"{len(run.cells)} cells ({run.computed} computed, {run.reused} reused this run).",
        "",
        f"Intervals: {INTERVAL_RULE}.",
        f"Tests: {TEST_RULE}. `*`: significant at {1 - experiment.evaluation.level:.2g} after Holm's correction.",
        "",
    ]
    for part in sections(run) if parts is None else parts:
        lines += [f"## {_md(part.dataset)} · {_md(part.protocol)}", "", part.setting, ""]
        lines.append("| model | " + " | ".join(part.metrics) + " |")
        lines.append("|---|" + "---|" * len(part.metrics))
        for row in part.means:
            name = _md(row["model"]) + (" (baseline)" if row["baseline"] else "")
            lines.append(f"| {name} | " + " | ".join(row["values"]) + " |")
        lines.append("")
        if part.comparisons:
            lines += [
                f"Against {_md(experiment.baseline)} (Holm over the {part.n_tests} comparisons of this table):",
                "",
                "| model | metric | difference | pairs | test | p (Holm) | p Wilcoxon (Holm) |",
                "|---|---|---|---|---|---|---|",
            ]
            for c in part.comparisons:
                star = " *" if c["significant"] else ""
                lines.append(
                    f"| {_md(c['model'])} | {c['metric']} | {c['difference']}{star} | {c['pairs']} | {c['test']} | "
                    f"{c['p_value']} | {c['p_wilcoxon']} |"
                )
            lines.append("")
        if part.untested:
            lines += [f"Not compared where the baseline or the model has no value: {', '.join(part.untested)}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _results_json(run: ExperimentRun) -> str:
    out = {
        "experiment": run.experiment.describe(),
        "cells": {"total": len(run.cells), "computed": run.computed, "reused": run.reused},
        "seconds": round(run.seconds, 3),
        "interval_rule": INTERVAL_RULE,
        "test_rule": TEST_RULE,
        "rows": json.loads(run.table.to_json(orient="records")),
    }
    return json.dumps(out, indent=2, allow_nan=False) + "\n"


def _have(module: str) -> bool:
    """Whether the ``viz`` extra's ``module`` is installed (the files that need it are left out otherwise)."""
    from embrec.errors import MissingExtraError
    from embrec.extras import require

    try:
        require("viz", "this part of the experiment report", (module,))
    except MissingExtraError:
        return False
    return True


def write_outputs(run: ExperimentRun) -> None:
    """Write every file of a finished run into ``run.out`` (recorded in ``run.files``, what was left
    out in ``run.notes``)."""
    from embrec.experiments.figures import section_figure
    from embrec.experiments.report import render_report

    folder = run.out
    parts = sections(run)
    run.files = [
        write_text(folder / "results.csv", run.table.to_csv(index=False)),
        write_text(folder / "results.json", _results_json(run)),
        write_text(folder / "results.md", results_markdown(run, parts)),
    ]
    if run.experiment.text is not None:
        run.files.append(write_text(folder / "experiment.toml", run.experiment.text))
    figures: dict[str, Any] = {}
    if _have("matplotlib"):
        from embrec.viz.save import save_figure

        for part in parts:
            figure = section_figure(part, level=run.experiment.evaluation.level)
            if figure is not None:
                figures[part.slug] = figure
                run.files.append(save_figure(figure, folder / "plots" / f"{part.slug}.png"))
    else:
        run.notes.append("plots left out: matplotlib is not installed (pip install 'embrec[viz]')")
    if _have("jinja2"):
        run.files.append(write_text(folder / "report.html", render_report(run, parts, figures)))
    else:
        run.notes.append("report.html left out: Jinja2 is not installed (pip install 'embrec[viz]')")
