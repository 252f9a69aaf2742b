"""Which rows each report plot takes (one metric per line, one unit per axis) and the tags shown
once above a table: checked on the data and on the drawn figures, not only that a PNG exists."""

import re

from pytest_mlxbench.report import plots
from pytest_mlxbench.report.html import render_page, shared_tags

COMMON = {"gen_tokens": "32", "ignore_eos": "true"}


def throughput_rows(rates: dict[int, tuple[float, float, float]]) -> list[dict]:
    """The throughput suite's rows per prompt length: prefill, decode and total tok/s (all in
    tok/s, as the suite writes them), then TTFT in ms and peak RSS in MB."""
    rows = []
    for length, (prefill, decode, total) in rates.items():
        tags = {**COMMON, "prompt_tokens": str(length)}
        rows += [
            {"name": f"prefill_{length}", "metric": "prefill_throughput", "value": prefill, "unit": "tok/s",
             "prompt_tokens_per_second": prefill, "tags": {**tags, "repeats": "3"}},
            {"name": f"decode_{length}", "metric": "decode_throughput", "value": decode, "unit": "tok/s",
             "decode_tokens_per_second": decode, "tags": {**tags, "repeats": "3"}},
            {"name": f"total_{length}", "metric": "total_throughput", "value": total, "unit": "tok/s",
             "total_tokens_per_second": total, "tags": {**tags, "repeats": "3"}},
            {"name": f"ttft_{length}", "metric": "ttft", "value": 30.0, "unit": "ms", "tags": tags},
            {"name": f"peak_rss_{length}", "metric": "memory", "value": 400.0, "unit": "MB", "tags": tags},
        ]
    return rows


def ttft_rows() -> list[dict]:
    rows = [{"name": "ttft_cold", "metric": "ttft", "value": 900.0, "unit": "ms"}]
    rows += [{"name": f"ttft_p{q}", "metric": "ttft", "value": ms, "unit": "ms", "tags": {"requests": "10"}}
             for q, ms in ((50, 41.0), (90, 55.0), (99, 70.0))]
    rows += [{"name": f"e2e_latency_p{q}", "metric": "latency", "value": s, "unit": "seconds",
              "tags": {"requests": "10"}} for q, s in ((50, 1.2), (90, 1.5), (99, 1.9))]
    rows.append({"name": "decode", "metric": "decode_throughput", "value": 25.0, "unit": "tok/s"})
    return rows


def test_the_decode_line_takes_decode_rows_only(envelope):
    current = envelope("throughput", throughput_rows({128: (3700.0, 280.0, 540.0), 512: (3400.0, 270.0, 1500.0)}))
    before = envelope("throughput", throughput_rows({128: (3600.0, 300.0, 560.0)}))
    lines = plots.throughput_lines([current], [before])
    assert lines == {
        "decode": {("tiny-llama-h64", False): [(128, 280.0), (512, 270.0)], ("tiny-llama-h64", True): [(128, 300.0)]},
        "prefill": {("tiny-llama-h64", False): [(128, 3700.0), (512, 3400.0)],
                    ("tiny-llama-h64", True): [(128, 3600.0)]},
    }
    figure = plots._throughput(plots._Inputs([current], [before], []))
    decode_axes, prefill_axes = figure.axes
    assert decode_axes.get_title() == "decode throughput" and prefill_axes.get_title() == "prefill throughput"
    drawn = {line.get_label(): list(line.get_ydata()) for line in decode_axes.get_lines()}
    assert drawn == {"tiny-llama-h64": [280.0, 270.0], "tiny-llama-h64 (baseline)": [300.0]}


def test_a_row_without_the_field_joins_a_line_by_its_metric_only(envelope):
    tags = {"prompt_tokens": "64"}
    rows = [{"name": "d", "metric": "decode_throughput", "value": 90.0, "unit": "tok/s", "tags": tags},
            {"name": "t", "metric": "total_throughput", "value": 400.0, "unit": "tok/s", "tags": tags}]
    lines = plots.throughput_lines([envelope("throughput", rows)])
    assert lines == {"decode": {("tiny-llama-h64", False): [(64, 90.0)]}}


def test_the_ttft_plot_has_one_unit_per_axis(envelope):
    current, before = envelope("ttft", ttft_rows()), envelope("ttft", ttft_rows()[:3])
    panels = plots.ttft_panels([current], [before])
    assert panels == {
        ("ttft", "ms"): {"tiny-llama-h64 ttft": {50.0: 41.0, 90.0: 55.0, 99.0: 70.0},
                         "tiny-llama-h64 ttft (baseline)": {50.0: 41.0, 90.0: 55.0}},
        ("latency", "seconds"): {"tiny-llama-h64 e2e_latency": {50.0: 1.2, 90.0: 1.5, 99.0: 1.9}},
    }
    figure = plots._ttft(plots._Inputs([current], [before], []))
    assert [(axes.get_title(), axes.get_ylabel()) for axes in figure.axes] == [
        ("time to first token", "ms"), ("end-to-end latency", "seconds")]
    assert [patch.get_height() for patch in figure.axes[1].patches] == [1.2, 1.5, 1.9]


def test_tags_every_row_shares_are_shown_once_above_the_table(envelope):
    current = envelope("throughput", throughput_rows({128: (3700.0, 280.0, 540.0), 512: (3400.0, 270.0, 1500.0)}))
    assert shared_tags(current["results"]) == COMMON
    page = render_page([current], [])
    assert page.count("Tags of every row: gen_tokens=32, ignore_eos=true") == 1
    cells = re.findall(r"<td>([^<]*prompt_tokens=[^<]*)</td>", page)
    assert cells[:3] == ["prompt_tokens=128, repeats=3"] * 3 and cells[3] == "prompt_tokens=128"
    assert "ignore_eos" not in "".join(cells)


def test_a_single_row_keeps_its_tags_in_the_table():
    assert shared_tags([{"tags": {"a": "1"}}]) == {}
    assert shared_tags([{"tags": {"a": "1"}}, {}]) == {}
