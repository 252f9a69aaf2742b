"""The report page in a real browser: headless Chromium loads it offline and decodes every plot.

Needs the Debian package ``chromium`` (``apt-get install -y chromium``). Without it the test is
skipped, except under CI=true, where a missing browser is a failure.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from pytest_mlxbench import gate
from pytest_mlxbench.report import write_report

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schema" / "v1.json"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")  # same flags for all
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
# Appended to a copy of the page: after load, lists each image with the width the browser decoded.
PROBE = (
    '<script>window.addEventListener("load", () => { const probe = document.createElement("pre");'
    ' probe.id = "probe"; probe.textContent = JSON.stringify([...document.images].map('
    'image => [image.getAttribute("src"), image.naturalWidth, image.naturalHeight]));'
    " document.body.append(probe); });</script>"
)


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing on CI: install it with `apt-get install -y chromium`")
    pytest.skip("chromium is not installed (apt-get install -y chromium); under CI=true this fails")


@pytest.fixture
def envelopes() -> tuple[list[dict], list[dict]]:
    """(baseline, current) runs of three suites, valid against the contract."""
    validator = Draft7Validator(json.loads(SCHEMA_PATH.read_text()), format_checker=Draft7Validator.FORMAT_CHECKER)

    def run(scale: float) -> list[dict]:
        suites = {
            "throughput": [
                {"name": f"decode_{p}", "metric": "throughput", "value": v * scale, "unit": "tok/s",
                 "decode_tokens_per_second": v * scale, "tags": {"prompt_tokens": str(p)}}
                for p, v in ((128, 75.0), (512, 64.0), (2048, 40.0))
            ],
            "ttft": [{"name": p, "metric": "ttft", "value": v, "unit": "ms"} for p, v in (("p50", 40), ("p99", 70))],
            "tool-calling": [{"name": "simple", "metric": "accuracy", "value": 0.9, "unit": "ratio"}],
        }  # fmt: skip
        runs = [
            {"schema_version": "1", "timestamp": "2026-05-01T12:00:00Z", "git_sha": "0123abc", "trigger": "local",
             "suite": suite, "model": "tiny-llama-h64", "system": {"os": "Linux", "chip": "x86_64", "memory_gb": 24},
             "results": results, "errors": ['<img src="https://example.invalid/x.png">']}
            for suite, results in suites.items()
        ]  # fmt: skip
        for envelope in runs:
            validator.validate(envelope)
        return runs

    return run(1.0), run(0.8)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]  # width and height of the IHDR chunk
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def test_chromium_renders_every_plot_of_the_page(tmp_path, chromium, envelopes):
    baseline, current = envelopes
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nsuite = "throughput"\nmax_drop_pct = 10\n')
    outcomes = gate.evaluate(gate.load_rules(rules), current, baseline)
    page = write_report(current, tmp_path / "report", baseline=baseline, outcomes=outcomes)
    probe_page = page.with_name("probe.html")  # beside the page, so relative image paths resolve
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))

    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", probe_page.as_uri()],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    probe = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert probe, f"the page did not finish loading: {done.stdout[:500]}"
    images = json.loads(html.unescape(probe[1]))
    assert [source for source, _, _ in images] == ["throughput.png", "ttft.png", "accuracy.png", "gate.png"]
    for source, width, height in images:
        assert (width, height) == png_size(page.parent / source), source
    assert done.stdout.count("<table>") == 1 + 1 + 2 * 3  # overview, thresholds, per suite: info, results
    assert '&lt;img src="https://example.invalid/x.png"&gt;' in done.stdout  # hostile error text stays text
