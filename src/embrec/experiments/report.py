"""``report.html`` of an experiment: one self-contained page, plots inlined as base64 PNG, nothing fetched.

The template is a string here (so it ships with the module); Jinja2 escapes every value, since
labels and names are data, not markup.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from embrec.experiments.compare import INTERVAL_RULE, TEST_RULE

if TYPE_CHECKING:
    from embrec.experiments.outputs import Section
    from embrec.experiments.runner import ExperimentRun

__all__ = ["TEMPLATE", "render_report"]

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ name }} - embrec experiment</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
tr.baseline td { color: #666; font-style: italic; }
td.significant { font-weight: 600; }
.muted { color: #666; }
img { max-width: 100%; }
</style>
</head>
<body>
<h1>{{ name }}</h1>
{% if description %}<p>{{ description }}</p>{% endif %}
<p>Seeds {{ seeds }}; baseline <b>{{ baseline }}</b>; {{ total }} cells ({{ computed }} computed, {{ reused }} reused
in this run, {{ seconds }}). Written {{ written }}.</p>
<p class="muted">Intervals: {{ interval_rule }}.<br>Tests: {{ test_rule }}. Bold: significant at {{ alpha }} after
Holm's correction.</p>
{% for s in sections %}
<h2>{{ s.dataset }} · {{ s.protocol }}</h2>
<p class="muted">{{ s.setting }}</p>
<table>
<tr><th>model</th>{% for m in s.metrics %}<th>{{ m }}</th>{% endfor %}</tr>
{% for row in s.means %}<tr{% if row.baseline %} class="baseline"{% endif %}><td>{{ row.model }}{% if row.baseline %}
(baseline){% endif %}</td>{% for v in row["values"] %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if figures.get(s.slug) %}<img alt="means with intervals, {{ s.dataset }} {{ s.protocol }}" src="{{ figures[s.slug] }}">{% endif %}
{% if s.comparisons %}
<p>Against {{ baseline }} (Holm over the {{ s.n_tests }} comparisons of this table):</p>
<table>
<tr><th>model</th><th>metric</th><th>difference</th><th>pairs</th><th>test</th><th>p (Holm)</th><th>p Wilcoxon (Holm)</th></tr>
{% for c in s.comparisons %}<tr><td>{{ c.model }}</td><td>{{ c.metric }}</td>
<td{% if c.significant %} class="significant"{% endif %}>{{ c.difference }}</td><td>{{ c.pairs }}</td>
<td>{{ c.test }}</td><td>{{ c.p_value }}</td><td>{{ c.p_wilcoxon }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if s.untested %}<p class="muted">Not compared where the baseline or the model has no value: {{ s.untested|join(", ") }}.</p>{% endif %}
{% endfor %}
</body>
</html>
"""


def render_report(run: ExperimentRun, parts: list[Section], figures: dict[str, Any]) -> str:
    """The HTML page of ``run``: its tables in ``parts`` and the matplotlib ``figures`` by section slug."""
    from embrec.extras import require

    require("viz", "the experiment report", ("jinja2",))
    import jinja2

    from embrec.viz.save import figure_data_uri

    experiment = run.experiment
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        name=experiment.name,
        description=experiment.description,
        seeds=", ".join(map(str, experiment.seeds)),
        baseline=experiment.baseline,
        total=len(run.cells),
        computed=run.computed,
        reused=run.reused,
        seconds=f"{run.seconds:.1f} s",
        written=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        interval_rule=INTERVAL_RULE,
        test_rule=TEST_RULE,
        alpha=f"{1 - experiment.evaluation.level:.2g}",
        sections=parts,
        figures={slug: figure_data_uri(fig) for slug, fig in figures.items()},
    )
