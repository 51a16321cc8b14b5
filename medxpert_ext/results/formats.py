"""The leaderboard as a terminal table (rich), CSV and Markdown (papers, PR comments) and JSON (machines)."""

from __future__ import annotations

import csv
import io
import json

from .leaderboard import Cell, Leaderboard, column_title

FAIL_SHORT = {"extract_fail": "no answer", "judge_error": "no verdict", "closed_unreadable": "no answer",
              "no_answer": "no answer"}  # fmt: skip


def fmt_value(cell: Cell | None) -> str:
    if cell is None or cell.value is None:
        return "-"
    text = f"{cell.value:.2f}"
    if cell.stderr is not None:
        text += f" ± {cell.stderr:.2f}"
    return text


def fmt_fails(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return ", ".join(f"{FAIL_SHORT[m]} {v:.1f}%" for m, v in cell.fails.items() if v)


def _run_ref(row) -> str:
    return row.source or ",".join(f"#{i}" for i in row.run_ids)


def to_table(lb: Leaderboard, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=max(console.width, 240))
    table = Table(title=f"medxpert leaderboard (percent; rows by {lb.by})", title_justify="left")
    for col in ("model", "step", "harness", "runs"):
        table.add_column(col)
    for task in lb.columns:
        table.add_column(escape(column_title(task)), justify="right")
    for row in lb.rows:
        cells = []
        for task in lb.columns:
            c = row.cells.get(task)
            text = escape(fmt_value(c))
            fails = fmt_fails(c)
            if fails:
                worst = max(c.fails.values())
                text += f"\n[{'red' if worst >= 5 else 'yellow'}]{escape(fails)}[/]"
            cells.append(text)
        style = "italic dim" if row.published else None
        table.add_row(escape(row.model), "" if row.step is None else str(row.step), escape(row.harness),
                      escape(_run_ref(row) if not row.published else "published"), *cells, style=style)  # fmt: skip
    console.print(table)
    for row in lb.rows:
        if row.published:
            console.print(f"[dim]published: {escape(row.model)}: {escape(row.source or '')}[/dim]")


def _long_header(lb: Leaderboard) -> list[str]:
    head = ["model", "step", "checkpoint", "harness", "kind", "run_ids", "evaluated_at"]
    for task in lb.columns:
        head += [f"{task}", f"{task}:metric", f"{task}:stderr", f"{task}:n", f"{task}:harness", f"{task}:extract_fail",
                 f"{task}:judge_error"]  # fmt: skip
    return head


def to_csv(lb: Leaderboard) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_long_header(lb))
    for r in lb.rows:
        line = [r.model, r.step, r.checkpoint, r.harness, "published" if r.published else "measured",
                _run_ref(r) if not r.published else r.source, r.evaluated_at.isoformat() if r.evaluated_at else ""]  # fmt: skip
        for task in lb.columns:
            c = r.cells.get(task)
            if c is None:
                line += [""] * 7
                continue
            no_answer = next((v for k, v in c.fails.items() if k != "judge_error"), None)
            line += [_num(c.value), c.metric, _num(c.stderr), c.n, c.harness, _num(no_answer),
                     _num(c.fails.get("judge_error"))]  # fmt: skip
        w.writerow(["" if v is None else v for v in line])
    return buf.getvalue()


def _num(v: float | None) -> str:
    return "" if v is None else repr(v)


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def to_markdown(lb: Leaderboard) -> str:
    head = ["model", "step", "harness"] + [column_title(t) for t in lb.columns]
    lines = ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    for r in lb.rows:
        cells = []
        for task in lb.columns:
            c = r.cells.get(task)
            text = fmt_value(c).replace(" ± ", " ±")
            fails = fmt_fails(c)
            cells.append(_md(text + (f" ({fails})" if fails else "")))
        model = f"*{_md(r.model)}*" if r.published else _md(r.model)
        lines.append("| " + " | ".join([model, "" if r.step is None else str(r.step), _md(r.harness), *cells]) + " |")
    notes = [f"*{_md(r.model)}*: published, {_md(r.source or '')}" for r in lb.rows if r.published]
    lines.append("")
    lines.append("Percent; ± is the standard error; \"no answer\"/\"no verdict\" is the share of samples whose answer "
                 "could not be read or judged (not scored as wrong).")  # fmt: skip
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def to_json(lb: Leaderboard) -> str:
    return json.dumps(lb.as_json(), indent=2, ensure_ascii=False)
