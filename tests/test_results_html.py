"""The HTML leaderboard in a real headless browser (Debian's chromium driven by Playwright's Python package, no
browser download): it loads with no console errors, has the expected rows, shows a hostile model name as text
without running it, sorts, draws the charts and breakdowns; a screenshot is kept as a test artifact."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medxpert_ext.results.ingest import ingest_paths
from medxpert_ext.results.store import Store
from tests.helpers import REPO
from tests.results_fixtures import lmeval_sample, text_rows, write_lmeval_run, write_opencompass_workdir

XSS = "<img src=x onerror=alert(1)>"
CHROMIUM = os.environ.get("MEDXPERT_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(os.environ.get("MEDXPERT_TEST_ARTIFACTS", REPO / "test-artifacts"))


def build_store(tmp: Path) -> Path:
    """Two models over four checkpoints, one hostile model name, an OpenCompass run; samples with the axes."""
    runs = tmp / "runs"
    axes = [("Reasoning", "Diagnosis", "Cardiovascular"), ("Understanding", "Treatment", "Nervous"),
            ("Reasoning", "Basic Science", "Respiratory")]  # fmt: skip
    for model, base in (("med-llama", 0.30), ("med-qwen", 0.35)):
        for k, step in enumerate((250, 500, 750, 1000)):
            acc = base + 0.04 * k
            samples = {"medxpert_text_reasoning": [
                lmeval_sample(i, f"Text-{i}", i < acc * 60, i % 11 == 0, **dict(zip(("question_type", "medical_task", "body_system"), axes[i % 3])))
                for i in range(60)]}  # fmt: skip
            write_lmeval_run(runs / f"{model}-{step}", f"/ck/{model}/checkpoint-{step}",
                             {"medxpert_text_reasoning": {"acc": acc, "extract_fail": 0.05}, "medxpert_text": {"acc": acc - 0.01, "extract_fail": 0.05},
                              "medvqa_vqarad_closed": {"closed_acc": 0.6 + 0.02 * k}, "medbench_medqa": {"acc": 0.5 + 0.03 * k, "extract_fail": 0.21}},
                             date_id=f"2026-11-30T1{k}-00-00.00000{len(model)}", samples=samples)  # fmt: skip
    write_lmeval_run(runs / "evil", XSS, {"medxpert_text_reasoning": {"acc": 0.2, "extract_fail": 0.3}},
                     date_id="2026-11-30T09-00-00.000001")  # fmt: skip
    write_opencompass_workdir(runs / "oc", text_rows(24, 16), abbr="med-llama-1000", path="/ck/med-llama/checkpoint-1000")
    db = tmp / "store.db"
    with Store.open(db) as store:
        report = ingest_paths(store, [runs])
        assert report.ok and report.added == 10, report
    return db


def test_html_is_self_contained_and_escaped(tmp_path):
    db = build_store(tmp_path)
    out = tmp_path / "board.html"
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "leaderboard", "--db", str(db), "--format", "html",
                           "-o", str(out)], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    from html.parser import HTMLParser

    class Links(HTMLParser):
        found: list = []

        def handle_starttag(self, tag, attrs):
            self.found += [(tag, k, v) for k, v in attrs if k in ("src", "href", "xlink:href") and v
                           and not v.startswith(("#", "data:"))]  # fmt: skip

    parser = Links()
    parser.feed(page)
    fetches = parser.found + [m for m in ("url(http", "@import") if m in page]
    assert fetches == []  # nothing to load: no network at view time
    assert "<script src" not in page and page.count('class="chart"') >= 8 and "Plotly.newPlot" in page
    assert "MedXpertQA breakdown" in page and "VQA: closed vs open" in page and "published" in page


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} not found (apt-get install chromium)")
def test_html_in_headless_chromium(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    db = build_store(tmp_path)
    out = tmp_path / "board.html"
    subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "leaderboard", "--db", str(db), "-f", "html", "-o", str(out)],
                   check=True, capture_output=True)  # fmt: skip
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                                                   args=FLAGS, viewport={"width": 1400, "height": 1000})  # fmt: skip
        try:
            page = ctx.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(f"network: {r.url}"))
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            rows = page.locator("#leaderboard tbody tr")
            # 2 models x 4 checkpoints + the hostile name + the OpenCompass run + the published paper row
            assert rows.count() == 11
            models = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
            assert XSS in models  # shown as text
            assert page.locator("#leaderboard img").count() == 0 and page.locator("img").count() == 0
            assert models.count("med-llama") == 5 and models.count("med-qwen") == 4 and "GPT-4o (paper)" in models
            cell = page.locator("#leaderboard tbody tr", has_text="med-qwen").nth(3)
            assert "59.00 ± 1.00" in cell.inner_text() and "no answer 21.0%" in cell.inner_text()  # medqa at step 1000
            # sort by step, descending on the second click
            header = page.locator("#leaderboard thead th", has_text="step")
            header.click()
            header.click()
            assert rows.nth(0).locator("td").nth(1).inner_text() == "1000"
            assert page.locator("svg").count() >= 8
            assert page.locator("details summary", has_text="question_type").count() >= 1
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "leaderboard.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
        finally:
            ctx.close()
    assert problems == []
    if os.environ.get("MEDXPERT_UPDATE_SCREENSHOT"):
        shutil.copy(shot, REPO / "docs" / "leaderboard.png")
