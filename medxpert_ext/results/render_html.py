"""The leaderboard as ONE self-contained HTML file: sortable table, a bar chart per benchmark, a line chart per
benchmark over checkpoint steps, MedXpertQA breakdowns (question type x medical task x body system) and VQA
open/closed. Charts are Plotly figures drawn by the plotly.js that ships inside the ``plotly`` Python package,
embedded once in the page, so the page needs no network when viewed (matplotlib took ~0.3 s per chart here, too slow
for a 100-checkpoint sweep). Every string from a model, run or file goes through ``html.escape``;
the only script is the table sorter below, which reads ``data-v`` attributes and moves rows, never writes markup.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from datetime import datetime

from .formats import FAIL_SHORT, fmt_value
from .leaderboard import Leaderboard, Row, column_title, latest_per_model
from .store import Store

AXES = ("question_type", "medical_task", "body_system")
MAX_BARS = 40
MAX_BREAKDOWN_ROWS = 8
SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('thead th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('thead th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        if (x === '' && y !== '') return 1;
        if (y === '' && x !== '') return -1;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2433}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dde;padding-bottom:4px}
.meta{color:#667;font-size:13px} table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #dde;padding:4px 8px;text-align:right;vertical-align:top} th{background:#f3f5fa;cursor:pointer;position:sticky;top:0}
td.l,th.l{text-align:left} tr.published td{font-style:italic;background:#fafaf0}
.se{color:#889;font-size:11px} .fail{display:block;font-size:11px;color:#a60} .fail.bad{color:#c00;font-weight:600}
.h{font-size:10px;color:#667;display:block} .charts{display:flex;flex-wrap:wrap;gap:16px} .chart{border:1px solid #eef;padding:4px;flex:1 1 560px;min-width:480px;max-width:900px}
details{margin:8px 0} summary{cursor:pointer;font-weight:600}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _plotly_js() -> str:
    """plotly.js as shipped inside the ``plotly`` Python package (no CDN; the page works offline)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _label(text: str) -> str:
    """Plotly reads a few HTML tags in labels; entity-escaped text is shown literally and never parsed as markup."""
    return html.escape(text, quote=True)


COLOURS = {"lm-eval": "#4c78a8", "opencompass": "#f58518", "published": "#b8b8a0"}


def bar_chart(task: str, rows: list[Row]) -> dict | None:
    pts = [(r.label, r.cells[task]) for r in rows if task in r.cells
           and r.cells[task].value is not None][:MAX_BARS]  # fmt: skip
    if not pts:
        return None
    labels = [_label(f"{p[0]} [{p[1].harness}]") for p in pts]
    return {
        "data": [{"type": "bar", "orientation": "h", "y": labels, "x": [p[1].value for p in pts],
                  "error_x": {"type": "data", "array": [p[1].stderr or 0 for p in pts], "visible": True},
                  "marker": {"color": [COLOURS.get(p[1].harness or "", "#888") for p in pts]},
                  "hovertemplate": "%{y}: %{x:.2f}%<extra></extra>"}],  # fmt: skip
        "layout": {"title": {"text": _label(f"{column_title(task)} ({pts[0][1].metric}, %)")},
                   "xaxis": {"range": [0, max(100.0, max(p[1].value for p in pts) * 1.05)], "title": {"text": "%"}},
                   "yaxis": {"autorange": "reversed", "automargin": True}, "height": 120 + 22 * len(pts),
                   "margin": {"t": 40, "b": 40, "r": 10}, "showlegend": False},  # fmt: skip
    }


def line_chart(task: str, rows: list[Row]) -> dict | None:
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in rows:
        c = r.cells.get(task)
        if r.step is not None and c is not None and c.value is not None:
            series[f"{r.model} ({r.harness})"].append((r.step, c.value))
    series = {k: sorted(v) for k, v in series.items() if len(v) >= 2}
    if not series:
        return None
    return {
        "data": [{"type": "scatter", "mode": "lines+markers", "name": _label(name), "x": [p[0] for p in pts],
                  "y": [p[1] for p in pts], "hovertemplate": "step %{x}: %{y:.2f}%"}
                 for name, pts in sorted(series.items())],  # fmt: skip
        "layout": {"title": {"text": _label(f"{column_title(task)} over checkpoint steps")},
                   "xaxis": {"title": {"text": "checkpoint step"}}, "yaxis": {"title": {"text": "%"}}, "height": 320,
                   "margin": {"t": 40, "b": 40, "r": 10}, "legend": {"orientation": "h"}},  # fmt: skip
    }


def _json_for_script(obj: object) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' survive as such (so no '</script>' breakout)."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _main_table(lb: Leaderboard) -> str:
    head = ['<th class="l">model</th>', "<th>step</th>", '<th class="l">harness</th>', '<th class="l">runs</th>']
    head += [f'<th title="{esc(t)}">{esc(column_title(t))}</th>' for t in lb.columns]
    body = []
    notes = list(dict.fromkeys(r.source for r in lb.rows if r.published))
    for r in lb.rows:
        cls = ' class="published"' if r.published else ""
        tds = [f'<td class="l" data-v="{esc(r.model)}">{esc(r.model)}</td>',
               f'<td data-v="{"" if r.step is None else r.step}">{"" if r.step is None else r.step}</td>',
               f'<td class="l" data-v="{esc(r.harness)}">{esc(r.harness)}</td>',
               f'<td class="l" data-v="{esc(r.run_ids[0] if r.run_ids else "")}" title="{esc(r.source or r.checkpoint)}">'
               f'{esc("published [" + str(notes.index(r.source) + 1) + "]" if r.published else ", ".join(f"#{i}" for i in r.run_ids))}</td>']  # fmt: skip
        for t in lb.columns:
            c = r.cells.get(t)
            if c is None or c.value is None:
                tds.append('<td data-v="">-</td>')
                continue
            tip = f"{t}: {c.metric} = {c.value!r}%; stderr {c.stderr}; n {c.n}; harness {c.harness}; run #{c.run_id}"
            inner = f"{c.value:.2f}"
            if c.stderr is not None:
                inner += f' <span class="se">± {c.stderr:.2f}</span>'
            for m, v in c.fails.items():
                if v:
                    inner += f'<span class="fail{" bad" if v >= 5 else ""}">{esc(FAIL_SHORT[m])} {v:.1f}%</span>'
            inner += f'<span class="h">{esc(c.harness)}</span>'
            tds.append(f'<td data-v="{c.value!r}" title="{esc(tip)}">{inner}</td>')
        body.append(f"<tr{cls}>{''.join(tds)}</tr>")
    sources = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return (f'<table class="sortable" id="leaderboard"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>' + (f'<ol class="meta">{sources}</ol>' if notes else ""))  # fmt: skip


def _medxpert_breakdown(store: Store, rows: list[Row]) -> str:
    rows = [r for r in rows if r.run_ids][:MAX_BREAKDOWN_ROWS]
    if not rows:
        return ""
    run_to_row = {rid: i for i, r in enumerate(rows) for rid in r.run_ids}
    data = store.sample_rows(run_to_row, "medxpert")
    data = [d for d in data if not d[1].endswith("_judge") and d[2] is not None]
    if not data:
        return ""
    # only the newest run of a row counts for a task (same rule as the table)
    newest = {(run_to_row[d[0]], d[1]): d[0] for d in sorted(data, key=lambda d: d[0])}
    data = [d for d in data if newest[(run_to_row[d[0]], d[1])] == d[0]]
    parts = ["<h2>MedXpertQA breakdown</h2><p class=meta>Accuracy (%) from the stored samples of each model's newest "
             "row; n in brackets; no answer = answer unreadable (counted, not scored as right).</p>"]  # fmt: skip
    for axes in [(a,) for a in AXES] + [AXES]:
        cells: dict[tuple, list[list[int]]] = defaultdict(lambda: [[0, 0, 0] for _ in rows])
        for run_id, _task, correct, fail, *ax in data:
            key = tuple(ax[AXES.index(a)] or "-" for a in axes)
            c = cells[key][run_to_row[run_id]]
            c[0] += 1
            c[1] += correct
            c[2] += fail
        head = "".join(f'<th class="l">{esc(a)}</th>' for a in axes) + "".join(f"<th>{esc(r.label)} [{esc(r.harness)}]</th>" for r in rows)
        body = []
        for key in sorted(cells):
            tds = "".join(f'<td class="l" data-v="{esc(k)}">{esc(k)}</td>' for k in key)
            for n, ok, fail in cells[key]:
                if n:
                    extra = f'<span class="fail">no answer {100 * fail / n:.1f}%</span>' if fail else ""
                    tds += f'<td data-v="{100 * ok / n!r}">{100 * ok / n:.2f} <span class="se">({n})</span>{extra}</td>'
                else:
                    tds += '<td data-v="">-</td>'
            body.append(f"<tr>{tds}</tr>")
        table = f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        title = " x ".join(axes)
        parts.append(f"<details{' open' if len(axes) == 1 else ''}><summary>{esc(title)}</summary>{table}</details>")
    return "".join(parts)


_VQA = re.compile(r"^medvqa_(?P<ds>.+)_(?P<kind>open|closed)$")


def _vqa_breakdown(rows: list[Row], columns: list[str]) -> str:
    pairs = sorted({(m["ds"], m["kind"]) for t in columns if (m := _VQA.match(t))})
    if not pairs:
        return ""
    head = '<th class="l">model</th>' + "".join(f"<th>{esc(ds)} {esc(kind)}</th>" for ds, kind in pairs)
    body = []
    for r in rows:
        tds = f'<td class="l" data-v="{esc(r.label)}">{esc(r.label)} [{esc(r.harness)}]</td>'
        for ds, kind in pairs:
            c = r.cells.get(f"medvqa_{ds}_{kind}")
            tds += (f'<td data-v="{c.value!r}" title="{esc(c.metric)}">{esc(fmt_value(c))} <span class="h">{esc(c.metric)}</span></td>'
                    if c and c.value is not None else '<td data-v="">-</td>')  # fmt: skip
        body.append(f"<tr>{tds}</tr>")
    return ("<h2>VQA: closed vs open questions</h2><p class=meta>closed: closed_acc (yes/no); open: token recall "
            f'(the LLaVA-Med metric)</p><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')  # fmt: skip


PLOT_JS = """
var specs = JSON.parse(document.getElementById('chart-data').textContent);
Object.keys(specs).forEach(function (id) {
  Plotly.newPlot(id, specs[id].data, specs[id].layout, {displaylogo: false, responsive: true});
});
"""


def render(store: Store, lb: Leaderboard, *, title: str = "medxpert leaderboard") -> str:
    latest = latest_per_model(lb.rows)
    bar_rows = (lb.rows if sum(not r.published for r in lb.rows) <= MAX_BARS else latest + [r for r in lb.rows if r.published])
    specs: dict[str, dict] = {}
    charts = []
    for i, task in enumerate(lb.columns):
        ids = []
        for kind, spec in (("bar", bar_chart(task, bar_rows)), ("line", line_chart(task, lb.rows))):
            if spec:
                specs[f"{kind}-{i}"] = spec
                ids.append(f"{kind}-{i}")
        if ids:
            charts.append(f"<h3>{esc(column_title(task))} <span class=meta>{esc(task)}</span></h3><div class=charts>"
                          + "".join(f'<div class="chart" id="{i}"></div>' for i in ids) + "</div>")  # fmt: skip
    measured = sum(not r.published for r in lb.rows)
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title><style>{CSS}</style>",
        f"<script>{_plotly_js()}</script></head><body>" if specs else "</head><body>",
        f"<h1>{esc(title)}</h1><p class=meta>{measured} measured rows (by {esc(lb.by)}), "
        f"{len(lb.rows) - measured} published reference rows; all numbers in percent; ± = standard error; "
        f"generated {esc(datetime.now().strftime('%Y-%m-%d %H:%M'))} from {esc(store.url)}. Click a header to sort.</p>",
        _main_table(lb),
        "<h2>Per benchmark</h2>" + "".join(charts) if charts else "",
        _medxpert_breakdown(store, latest),
        _vqa_breakdown(latest, lb.columns),
        f'<script type="application/json" id="chart-data">{_json_for_script(specs)}</script>',
        f"<script>{SORT_JS}{PLOT_JS if specs else ''}</script></body></html>",
    ])  # fmt: skip
