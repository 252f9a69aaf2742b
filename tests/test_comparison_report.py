"""The comparison page and the history page: what their tables say, which series each plot
takes (kept beside each image), and the report command's --history."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest
from support.comparison_data import (
    Q4_ONLY_RIGHT,
    Q4_WRONG,
    comparison_envelope,
    history_envelopes,
)

from pytest_mlxbench.report import write_report
from pytest_mlxbench.report.history import history_series
from pytest_mlxbench.suites.comparison import stats


def figures(page: str) -> dict[str, dict]:
    """Each figure's image file -> the series the page says it drew."""
    return {name: json.loads(html.unescape(data))
            for name, data in re.findall(r'<figure data-plot="([^"]+)" data-series="([^"]*)"', page)}


def rows(envelope: dict, role: str) -> dict[str, dict]:
    return {row["name"]: row for row in envelope["results"] if row["tags"]["role"] == role}


def test_the_comparison_envelope_of_two_models_is_paired_and_honest():
    envelope = comparison_envelope()
    differences = rows(envelope, "difference")
    accuracy = differences["tool-calling:pass_rate[q4 vs q8]"]
    expected = stats.paired_proportions(len(Q4_WRONG), len(Q4_ONLY_RIGHT), 60)
    assert accuracy["value"] == pytest.approx(expected.value)
    assert float(accuracy["tags"]["p_value"]) == pytest.approx(expected.p_value)
    assert accuracy["tags"]["verdict"] == ("worse" if expected.significant else "no detectable difference at 60 cases")
    decode = differences["throughput:decode_128[q4 vs q8]"]
    assert decode["tags"]["test"] == "paired-bootstrap" and decode["tags"]["verdict"] == "better"
    assert float(decode["tags"]["diff_pct"]) == pytest.approx(40, abs=3)
    for row in differences.values():  # a "better" or "worse" always has an interval without 0
        if row["tags"]["verdict"] in ("better", "worse"):
            assert float(row["tags"]["ci_low"]) > 0 or float(row["tags"]["ci_high"]) < 0


def test_the_comparison_page_tables_and_the_series_of_each_plot(tmp_path):
    comparison = comparison_envelope()
    index = write_report([comparison], tmp_path / "report")
    assert '<a href="comparison.html">Model comparison</a>' in index.read_text()
    page = (tmp_path / "report" / "comparison.html").read_text()
    assert "worse ▼" in page and "better ▲" in page
    assert "mcnemar-exact, 60 cases" in page and "paired-bootstrap, 10 repeats" in page
    assert "detectable at 80% power" in page
    plotted = figures(page)
    assert set(plotted) == {"comparison-headlines.png", "comparison-differences.png", "comparison-throughput.png"}
    model_rows = rows(comparison, "model")

    def point(name: str, x) -> list:
        row = model_rows[name]
        return [x, row["value"], float(row["tags"]["ci_low"]), float(row["tags"]["ci_high"])]

    # the bars: each model's pass rate with its exact interval, nothing else
    assert plotted["comparison-headlines.png"] == {
        "q8": [point("tool-calling:pass_rate[q8]", "tool-calling pass_rate")],
        "q4": [point("tool-calling:pass_rate[q4]", "tool-calling pass_rate")],
    }
    # the curves: per metric and model, every prompt length in order
    curves = plotted["comparison-throughput.png"]
    assert set(curves) == {f"{metric} {model}" for metric in ("decode_throughput", "prefill_throughput")
                           for model in ("q8", "q4")}
    assert curves["decode_throughput q4"] == [point(f"throughput:decode_{length}[q4]", length)
                                             for length in (128, 512, 2048)]
    # the forest: every difference with its interval and verdict, one panel per unit
    forest = plotted["comparison-differences.png"]
    differences = rows(comparison, "difference")
    assert {label for unit in forest.values() for label, *_ in unit} == {
        f"{row['tags']['suite']} {row['tags']['headline']}: q4 - q8" for row in differences.values()}
    assert [p[1:] for p in forest["ratio"]] == [
        [row["value"], float(row["tags"]["ci_low"]), float(row["tags"]["ci_high"]), row["tags"]["verdict"]]
        for row in differences.values() if row["unit"] == "ratio"]
    for name, _series in plotted.items():
        assert (tmp_path / "report" / name).read_bytes().startswith(b"\x89PNG")


def test_history_marks_the_run_the_gate_would_fail():
    series = {(entry.suite, entry.headline): entry for entry in history_series(history_envelopes())}
    decode = series["throughput", "decode_128"]
    assert [point.git_sha for point in decode.points["q4"]] == ["aaaa111", "bbbb222", "cccc333", "dddd444", "eeee555"]
    flagged = [point.git_sha for point in decode.points["q4"] if point.flagged]
    assert flagged == ["dddd444"]  # -2% is within the default 5%, +43% is an improvement
    assert "beyond run noise" in decode.points["q4"][3].flagged[0]


def test_history_uses_the_rules_given(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nsuite = "throughput"\nname = "decode_*"\nmax_drop_pct = 50\n')
    from pytest_mlxbench import gate

    series = history_series(history_envelopes(), gate.load_rules(rules))
    assert not any(point.flagged for entry in series for points in entry.points.values() for point in points)


def test_report_command_writes_the_history_page(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for position, envelope in enumerate(history_envelopes()):
        (runs / f"run{position}.json").write_text(json.dumps(envelope))
    done = subprocess.run([sys.executable, "-m", "pytest_mlxbench", "report", str(runs), "--history",
                           "--out", str(tmp_path / "page")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(tmp_path / "page" / "history.html"), str(tmp_path / "page" / "index.html")]
    page = (tmp_path / "page" / "history.html").read_text()
    plotted = figures(page)
    assert len(plotted) == 6  # decode and prefill at three prompt lengths
    decode = plotted["history-throughput-decode_128.png"]["q4"]
    assert [[sha, flagged] for _, _, sha, flagged in decode] == [
        ["aaaa111", False], ["bbbb222", False], ["cccc333", False], ["dddd444", True], ["eeee555", False]]
    assert [value for _, value, _, _ in decode] == [
        next(r["value"] for r in envelope["results"] if r["name"] == "decode_128") for envelope in history_envelopes()]
    assert '<a href="history.html">History</a>' in (tmp_path / "page" / "index.html").read_text()
