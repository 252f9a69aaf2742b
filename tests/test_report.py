"""The HTML report, its plots, the terminal outcome table and the ``report`` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlxbench import gate
from pytest_mlxbench.__main__ import main
from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.report import format_outcomes_table, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script> $\\frac{a}{$ "quoted" & \x1b[31mred'


@pytest.fixture
def run(envelope):
    """Throughput, TTFT and accuracy envelopes; ``scale`` slows throughput down."""

    def build(scale: float = 1.0) -> list[dict]:
        throughput = [
            {
                "name": f"decode_{p}", "metric": "throughput", "value": tok_s * scale, "unit": "tok/s",
                "decode_tokens_per_second": tok_s * scale, "prompt_tokens_per_second": tok_s * 6,
                "duration_seconds": 1.5, "tags": {"prompt_tokens": str(p), "min": str(tok_s * scale * 0.98),
                                                 "max": str(tok_s * scale * 1.02)},
            }
            for p, tok_s in ((128, 75.0), (512, 64.0), (2048, 40.0))
        ]  # fmt: skip
        ttft = [
            {"name": p, "metric": "ttft", "value": ms, "unit": "ms"}
            for p, ms in (("p50", 41.0), ("p90", 55.0), ("p99", 70.0))
        ]
        accuracy = [
            {"name": "simple", "metric": "accuracy", "value": 0.92, "unit": "ratio"},
            {"name": "parallel", "metric": "accuracy", "value": 0.75, "unit": "ratio"},
        ]
        return [envelope("throughput", throughput), envelope("ttft", ttft), envelope("tool-calling", accuracy)]

    return build


RULES = """
[[rule]]
suite = "throughput"
field = "decode_tokens_per_second"
max_drop_pct = 10

[[rule]]
suite = "tool-calling"
min = 0.5
"""


def img_sources(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def save_run(directory: Path, envelopes: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for env in envelopes:
        (directory / f"{env['suite']}.json").write_text(json.dumps(env))
    return directory


# ---------------------------------------------------------------- the page


def test_page_has_tables_info_and_a_plot_per_kind_of_data(tmp_path, run):
    baseline, current = run(), run(scale=0.8)
    (tmp_path / "rules.toml").write_text(RULES)
    outcomes = gate.evaluate(gate.load_rules(tmp_path / "rules.toml"), current, baseline)
    page_path = write_report(current, tmp_path / "out", baseline=baseline, outcomes=outcomes)
    page = page_path.read_text()
    assert page_path == tmp_path / "out" / "index.html"
    assert img_sources(page) == ["throughput.png", "ttft.png", "accuracy.png", "gate.png"]
    for source in img_sources(page):
        assert (tmp_path / "out" / source).read_bytes().startswith(PNG_MAGIC)
    assert page.count("<table>") == 1 + 1 + 3 * 3  # overview, thresholds, per suite: info, results, memory
    for text in ("decode_512", "decode tok/s", "prefill tok/s", "tok/s", "p99", "parallel", "0.75",
                 "x86_64", "mlx_version", "0.32.4", "tiny-llama-h64", "max_gen_toks",
                 "Thresholds: 3 of 5 failed", "-20.0%", "drop &lt;= 10%"):  # fmt: skip
        assert text in page, text


def test_only_plots_with_data_are_drawn_and_stale_ones_removed(tmp_path, run, envelope):
    out = tmp_path / "out"
    write_report(run(), out)
    assert {p.name for p in out.glob("*.png")} == {"throughput.png", "ttft.png", "accuracy.png"}
    only_accuracy = [
        envelope("code-accuracy", [{"name": "humaneval", "metric": "pass@1", "value": 0.5, "unit": "ratio"}])
    ]
    page = write_report(only_accuracy, out).read_text()
    assert img_sources(page) == ["accuracy.png"]
    assert {p.name for p in out.glob("*.png")} == {"accuracy.png"}


def test_envelopes_without_plottable_data_give_a_page_without_images(tmp_path, envelope):
    envelopes = [
        envelope("ttft", [], skipped=True, errors=["mlx server unavailable"]),
        envelope("throughput", [{"name": "decode", "metric": "throughput", "value": 50.0, "unit": "tok/s"}]),
        envelope("ttft", [{"name": "mean", "metric": "ttft", "value": 40.0, "unit": "ms"}], model="other"),
    ]
    page = write_report(envelopes, tmp_path).read_text()
    assert img_sources(page) == []
    assert "(skipped)" in page and "mlx server unavailable" in page
    assert write_report([], tmp_path / "empty").read_text().count("No envelopes to report") == 1


def test_hostile_strings_are_escaped_everywhere(tmp_path, envelope):
    hostile_rows = [
        {"name": HOSTILE, "metric": "accuracy", "value": 0.5, "unit": "ratio",
         "tags": {"output": HOSTILE}, "raw": {"completion": HOSTILE}},
        {"name": f"{HOSTILE}_p50", "metric": "ttft", "value": 12.0, "unit": "ms"},
    ]  # fmt: skip
    envelopes = [envelope("tool-calling", hostile_rows[:1], model=HOSTILE, errors=[HOSTILE]),
                 envelope("ttft", hostile_rows[1:], model=HOSTILE)]  # fmt: skip
    page = write_report(envelopes, tmp_path).read_text()
    assert "<script" not in page.lower()
    assert "\x1b" in page  # kept as text: harmless in HTML
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 6  # model, name, tag, raw, error...
    assert img_sources(page) == ["ttft.png", "accuracy.png"]  # "$" in labels did not break matplotlib
    assert not re.search(r"<(?!/?(html|head|meta|title|style|body|h1|h2|h3|p|a|table|thead|tbody|tr|th|td|ul|li|"
                         r"section|figure|img|figcaption|details|summary|pre|!DOCTYPE)\b)", page)  # fmt: skip


def test_page_references_nothing_outside_its_directory(tmp_path, run):
    page = write_report(run(), tmp_path).read_text()
    references = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert references, "expected links and images"
    assert all(ref.startswith("#") or ("/" not in ref and ":" not in ref) for ref in references), references
    assert "<script" not in page and "<link" not in page and "@import" not in page


def test_unwritable_output_is_one_line(tmp_path, run):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BenchInputError) as error:
        write_report(run(), blocker / "out")
    assert "\n" not in str(error.value) and f"cannot write the report to {blocker / 'out'}" in str(error.value)


# ---------------------------------------------------------------- terminal table


def test_outcome_table_lists_every_check_and_explains_failures(tmp_path, run):
    (tmp_path / "rules.toml").write_text(RULES)
    outcomes = gate.evaluate(gate.load_rules(tmp_path / "rules.toml"), run(scale=0.8), run())
    lines = format_outcomes_table(outcomes).splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "CURRENT", "BASELINE", "CHANGE", "LIMIT"]
    assert lines[1].split()[:5] == [
        "FAIL",
        "throughput::decode_128::decode_tokens_per_second::rule0",
        "60",
        "75",
        "-20.0%",
    ]
    assert lines[4].split()[:3] == ["PASS", "tool-calling::parallel::value::rule1", "0.75"]
    assert any(line.startswith("FAIL throughput::decode_512") and "baseline 64" in line for line in lines)
    assert lines[-1] == "2 passed, 3 failed"


def test_outcome_table_neutralises_terminal_escapes(tmp_path, envelope):
    (tmp_path / "rules.toml").write_text('[[rule]]\nsuite = "reasoning"\nmin = 0.9\n')
    current = [envelope("reasoning", [{"name": HOSTILE, "metric": "exact_match", "value": 0.1, "unit": "ratio"}])]
    table = format_outcomes_table(gate.evaluate(gate.load_rules(tmp_path / "rules.toml"), current))
    assert "\x1b" not in table and "\\x1b[31mred" in table
    assert format_outcomes_table([]) == "no threshold rules evaluated"


# ---------------------------------------------------------------- the command


def test_command_writes_the_page_and_prints_its_path(tmp_path, run):
    inputs = save_run(tmp_path / "bench-results", run())
    done = subprocess.run(
        [sys.executable, "-m", "pytest_mlxbench", "report", str(inputs), "--out", str(tmp_path / "html")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "html" / "index.html")
    assert img_sources((tmp_path / "html" / "index.html").read_text()) == ["throughput.png", "ttft.png", "accuracy.png"]


def test_command_gates_against_a_baseline(tmp_path, run, capsys):
    current = save_run(tmp_path / "current", run(scale=0.8))
    baseline = save_run(tmp_path / "baseline", run())
    (tmp_path / "rules.toml").write_text(RULES)
    args = ["report", str(current), "--out", str(tmp_path / "html"), "--thresholds", str(tmp_path / "rules.toml")]
    assert main([*args, "--baseline", str(baseline)]) == 1
    output = capsys.readouterr().out.splitlines()
    assert output[-1] == str(tmp_path / "html" / "index.html")
    assert "3 failed" in output[-2]
    assert main([*args, "--baseline", str(current)]) == 0
    assert img_sources((tmp_path / "html" / "index.html").read_text())[-1] == "gate.png"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["report", "{d}/missing", "--out", "{d}/o"], "missing does not exist"),
        (["report", "{d}/broken.json", "--out", "{d}/o"], "broken.json: not valid JSON"),
        (["report", "{d}/run", "--out", "{d}/o", "--baseline", "{d}/nope"], "nope does not exist"),
        (
            ["report", "{d}/run", "--out", "{d}/o", "--thresholds", "{d}/bad.toml"],
            "bad.toml: rule 0 (througput/*): unknown suite 'througput' (did you mean 'throughput'?)",
        ),
        (
            ["report", "{d}/run", "--out", "{d}/o", "--thresholds", "{d}/relative.toml"],
            "relative.toml: rule 0 (throughput/*): relative bound but no baseline given",
        ),
        (["report", "{d}/run", "--out", "{d}/run/ttft.json"], "cannot write the report to"),
    ],
)
def test_command_bad_input_is_one_line_and_exit_2(tmp_path, run, capsys, argv, fragment):
    save_run(tmp_path / "run", run())
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "bad.toml").write_text('[[rule]]\nsuite = "througput"\nmin = 1\n')
    (tmp_path / "relative.toml").write_text('[[rule]]\nsuite = "throughput"\nmax_drop_pct = 1\n')
    assert main([arg.format(d=tmp_path) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("python -m pytest_mlxbench: error: ")
    assert fragment in captured.err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["report", "x.json"], "the following arguments are required: --out"),
        (["report", "--out", "d"], "the following arguments are required: ENVELOPE_OR_DIR"),
        (["plot"], "invalid choice: 'plot'"),
    ],
)
def test_command_usage_errors_are_one_line_and_exit_2(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
