"""The gate's result as a terminal table (rich), Markdown for a PR comment, or JSON for machines.

All three carry the same numbers: per task/group and metric the paired n, BASE, CAND, the difference with its
bootstrap CI, the test's p-value raw and Holm-adjusted, the allowance, the status; then the findings and the
decision with its exit code.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .gate import GateResult, Row

ICON = {0: "✅", 1: "❌", 2: "⚠️"}
STATUS_STYLE = {"regression": "bold red", "confounded": "yellow", "improved": "green", "within allowance": "cyan"}


def _p(p: float) -> str:
    if math.isnan(p):
        return "-"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _cells(r: Row) -> list[str]:
    arrow = "" if r.higher_is_better else " ↓"
    return [r.name + (" (group)" if r.kind == "group" else ""), r.metric + arrow, f"{r.n:,}", f"{r.base:.2f}",
            f"{r.cand:.2f}", f"{r.diff:+.2f}", f"[{r.ci[0]:+.2f}, {r.ci[1]:+.2f}]", _p(r.p_value), _p(r.p_adjusted),
            f"{r.max_drop:g}", r.status]  # fmt: skip


HEADERS = ["task", "metric", "n", "base", "cand", "diff", "CI", "p", "p (Holm)", "allowed", "status"]


def _headline(res: GateResult) -> str:
    return f"{ICON[res.exit_code]} {res.decision} (exit {res.exit_code}): {res.cand} vs {res.base}"


def _method(res: GateResult) -> str:
    c = res.config
    return (f"Paired on sample ids; values in points. CI: {100 * (1 - c.alpha):g}% paired bootstrap, "
            f"{c.resamples:,} resamples, seed {c.seed}. p: exact McNemar (binary) or bootstrap (continuous); "
            f"Holm over all gated rows, alpha {c.alpha:g}. Regression = Holm p < alpha and drop > allowed. "
            f"Format break = unreadable share up > {c.max_format_rise:g} points, Holm p < alpha.")  # fmt: skip


def render_table(res: GateResult, console: Any | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # pipes/CI logs: rich would squeeze the table into 80 columns
            console = Console(width=160)
    for title, rows in (("gated metrics", res.rows), ("unreadable answers (format)", res.format_rows)):
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        for h in HEADERS:
            table.add_column(h, justify="right" if h not in ("task", "metric", "status") else "left")
        for r in rows:
            table.add_row(*_cells(r), style=STATUS_STYLE.get(r.status) if r.status != "ok" else None)
        console.print(table)
    for f in res.findings:
        colour = {"regression": "red", "note": "dim"}.get(f.kind, "yellow")
        console.print(f"[{colour}]{f.kind}[/{colour}] {f.name}: {f.message}", highlight=False, markup=True)
    console.print(_headline(res), style="bold", highlight=False)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(res: GateResult) -> str:
    lines = [f"### {_md_escape(_headline(res))}", ""]
    for f in res.findings:
        if f.kind != "note":
            lines.append(f"- **{f.kind.replace('_', ' ')}** `{_md_escape(f.name)}`: {_md_escape(f.message)}")
    if any(f.kind != "note" for f in res.findings):
        lines.append("")
    for title, rows in (("Gated metrics", res.rows), ("Unreadable answers", res.format_rows)):
        if not rows:
            continue
        lines += [f"**{title}**", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        for r in rows:
            cells = [_md_escape(x) for x in _cells(r)]
            if r.status == "regression":
                cells[-1] = f"**{cells[-1]}**"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    notes = [f for f in res.findings if f.kind == "note"]
    if notes:
        lines += ["<details><summary>notes</summary>", ""]
        lines += [f"- `{_md_escape(f.name)}`: {_md_escape(f.message)}" for f in notes]
        lines += ["", "</details>", ""]
    lines.append(f"<sub>{_md_escape(_method(res))}</sub>")
    return "\n".join(lines) + "\n"


def _row_json(r: Row) -> dict[str, Any]:
    def num(x: float) -> float | None:
        return None if math.isnan(x) else x

    return {"name": r.name, "kind": r.kind, "metric": r.metric, "n": r.n, "base": r.base, "cand": r.cand,
            "diff": r.diff, "ci": list(r.ci), "p_value": r.p_value, "p_holm": num(r.p_adjusted), "test": r.test,
            "discordant": list(r.discordant) if r.discordant else None, "higher_is_better": r.higher_is_better,
            "max_drop": r.max_drop, "status": r.status}  # fmt: skip


def render_json(res: GateResult) -> str:
    return json.dumps({
        "decision": res.decision, "exit_code": res.exit_code, "base": res.base, "cand": res.cand,
        "units": "points (percentage points for 0-1 metrics)",
        "config": res.config.model_dump(),
        "rows": [_row_json(r) for r in res.rows],
        "format_rows": [_row_json(r) for r in res.format_rows],
        "findings": [{"kind": f.kind, "name": f.name, "message": f.message} for f in res.findings],
    }, indent=2)  # fmt: skip
