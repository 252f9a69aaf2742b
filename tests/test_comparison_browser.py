"""The comparison and history pages in a real browser: headless Chromium loads them offline,
decodes every plot, and the series each plot drew (kept beside it on the page) are the
envelopes' numbers. Needs chromium (skipped without it, except under CI=true)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
from pathlib import Path

from support.comparison_data import comparison_envelope, history_envelopes
from test_report_browser import CHROMIUM_FLAGS, chromium, png_size  # noqa: F401  (chromium: a fixture)

from pytest_mlxbench.report import write_report
from pytest_mlxbench.report.history import write_history

# Appended to a copy of the page: after load, each image with the size the browser decoded, and
# each figure's series as the browser parsed them from the page.
PROBE = (
    '<script>window.addEventListener("load", () => { const probe = document.createElement("pre");'
    ' probe.id = "probe"; probe.textContent = JSON.stringify({images: [...document.images].map('
    'image => [image.getAttribute("src"), image.naturalWidth, image.naturalHeight]), series: Object.fromEntries('
    '[...document.querySelectorAll("figure[data-series]")].map(figure => [figure.dataset.plot,'
    ' JSON.parse(figure.dataset.series)]))}); document.body.append(probe); });</script>'
)


def rendered(chromium_path: str, page: Path) -> tuple[list, dict, str]:
    """(images as [src, width, height], series per plot as the browser parsed them, the DOM)."""
    probe_page = page.with_name(f"probe-{page.name}")
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium_path, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                               probe_page.as_uri()], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    probe = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert probe, f"the page did not finish loading: {done.stdout[:500]}"
    found = json.loads(html.unescape(probe[1]))
    return found["images"], found["series"], done.stdout


def model_points(envelope: dict, suite: str, headline: str) -> dict[str, list]:
    return {row["tags"]["model"]: [row["value"], float(row["tags"]["ci_low"]), float(row["tags"]["ci_high"])]
            for row in envelope["results"]
            if row["tags"].get("role") == "model" and row["tags"].get("headline") == headline
            and row["tags"]["suite"] == suite}


def test_chromium_renders_the_comparison_page_with_the_envelope_numbers(tmp_path, chromium):
    comparison = comparison_envelope()
    write_report([comparison], tmp_path / "report")
    images, series, dom = rendered(chromium, tmp_path / "report" / "comparison.html")
    assert [source for source, _, _ in images] == [
        "comparison-headlines.png", "comparison-differences.png", "comparison-throughput.png"]
    for source, width, height in images:
        assert width > 0 and (width, height) == png_size(tmp_path / "report" / source), source
    pass_rates = model_points(comparison, "tool-calling", "pass_rate")
    assert {model: points[0][1:] for model, points in series["comparison-headlines.png"].items()} == pass_rates
    decode = {length: model_points(comparison, "throughput", f"decode_{length}") for length in (128, 512, 2048)}
    for model in ("q8", "q4"):
        drawn = series["comparison-throughput.png"][f"decode_throughput {model}"]
        assert drawn == [[length, *decode[length][model]] for length in (128, 512, 2048)]
    assert "worse ▼" in dom and "better ▲" in dom


def test_chromium_renders_the_history_page_with_the_flagged_run(tmp_path, chromium):
    envelopes = history_envelopes()
    page = write_history(envelopes, tmp_path / "history")
    images, series, _ = rendered(chromium, page)
    assert len(images) == 6 and all((w, h) == png_size(page.parent / src) for src, w, h in images)
    drawn = series["history-throughput-prefill_512.png"]["q4"]
    assert [point[:3] for point in drawn] == [
        [envelope["timestamp"], next(r["value"] for r in envelope["results"] if r["name"] == "prefill_512"),
         envelope["git_sha"]] for envelope in envelopes]
    assert [point[3] for point in drawn] == [False, False, False, True, False]
