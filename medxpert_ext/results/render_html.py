"""The leaderboard as ONE self-contained HTML file: sortable table, a bar chart per benchmark, a line chart per
benchmark over checkpoint steps, MedXpertQA breakdowns (question type x medical task x body system) and VQA
open/closed. Charts are matplotlib figures inlined as SVG (text kept as escaped <text>, no fonts or scripts fetched),
so the page needs no network when viewed. Every string from a model, run or file goes through ``html.escape``;
the only script is the table sorter below, which reads ``data-v`` attributes and moves rows, never writes markup.
"""

from __future__ import annotations

import html
import io
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
.h{font-size:10px;color:#667;display:block} .charts{display:flex;flex-wrap:wrap;gap:16px} .chart{border:1px solid #eef;padding:4px}
details{margin:8px 0} summary{cursor:pointer;font-weight:600}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _svg(fig) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buf = io.StringIO()
    FigureCanvasSVG(fig).print_svg(buf)
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF namespaces and a timestamp: not needed
    return text[text.index("<svg"):]  # drop the XML declaration and DOCTYPE: inline SVG in HTML5


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _rc():
    import matplotlib

    return matplotlib.rc_context({"svg.fonttype": "none", "text.parse_math": False, "svg.hashsalt": "medxpert",
                                  "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})  # fmt: skip


def bar_chart(task: str, rows: list[Row]) -> str | None:
    pts = [(r.label if not r.published else f"{r.model} [published]", r.cells[task]) for r in rows if task in r.cells
           and r.cells[task].value is not None]  # fmt: skip
    if not pts:
        return None
    pts = pts[:MAX_BARS]
    fig = _figure(6.0, 0.6 + 0.28 * len(pts))
    ax = fig.add_subplot()
    labels = [p[0] for p in pts]
    values = [p[1].value for p in pts]
    errs = [p[1].stderr or 0 for p in pts]
    colours = ["#b8b8a0" if p[1].harness == "published" else "#4c78a8" if p[1].harness == "lm-eval" else "#f58518" for p in pts]
    ax.barh(range(len(pts)), values, xerr=errs, color=colours, error_kw={"elinewidth": 0.8, "ecolor": "#555"})
    ax.set_yticks(range(len(pts)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"{column_title(task)} ({pts[0][1].metric}, %)   blue: lm-eval, orange: OpenCompass, grey: published")
    ax.set_xlim(0, max(100.0, max(values) * 1.05))
    return _svg(fig)


def line_chart(task: str, rows: list[Row]) -> str | None:
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in rows:
        c = r.cells.get(task)
        if r.step is not None and c is not None and c.value is not None:
            series[f"{r.model} ({r.harness})"].append((r.step, c.value))
    series = {k: sorted(v) for k, v in series.items() if len(v) >= 2}
    if not series:
        return None
    fig = _figure(6.0, 3.2)
    ax = fig.add_subplot()
    for name, pts in sorted(series.items()):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=2.5, linewidth=1.2, label=name)
    ax.set_xlabel("checkpoint step")
    ax.set_ylabel(f"{column_title(task)} (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _svg(fig)


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


def render(store: Store, lb: Leaderboard, *, title: str = "medxpert leaderboard") -> str:
    latest = latest_per_model(lb.rows)
    bar_rows = (lb.rows if sum(not r.published for r in lb.rows) <= MAX_BARS else latest + [r for r in lb.rows if r.published])
    charts = []
    with _rc():
        for task in lb.columns:
            figs = [s for s in (bar_chart(task, bar_rows), line_chart(task, lb.rows)) if s]
            if figs:
                charts.append(f"<h3>{esc(column_title(task))} <span class=meta>{esc(task)}</span></h3>"
                              f'<div class="charts">{"".join(f"<div class=chart>{s}</div>" for s in figs)}</div>')  # fmt: skip
    measured = sum(not r.published for r in lb.rows)
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1><p class=meta>{measured} measured rows (by {esc(lb.by)}), "
        f"{len(lb.rows) - measured} published reference rows; all numbers in percent; ± = standard error; "
        f"generated {esc(datetime.now().strftime('%Y-%m-%d %H:%M'))} from {esc(store.url)}. Click a header to sort.</p>",
        _main_table(lb),
        "<h2>Per benchmark</h2>" + "".join(charts) if charts else "",
        _medxpert_breakdown(store, latest),
        _vqa_breakdown(latest, lb.columns),
        f"<script>{SORT_JS}</script></body></html>",
    ])  # fmt: skip
