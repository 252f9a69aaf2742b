"""The complete suite shown in README's "Writing a suite" runs as written, and the public API
says one clear line for an unknown suite name."""

from __future__ import annotations

import re

import pytest
from support.contract import ROOT, read_envelopes, rows_by_name


def readme_suite() -> str:
    section = (ROOT / "README.md").read_text().split("### Writing a suite", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_suite_runs_against_a_real_server(pytester, tmp_path, running_server):
    pytester.makepyfile(test_capitals=readme_suite())
    out = tmp_path / "out"
    result = pytester.runpytest("--mlx-base-url", running_server.base_url, "--max-tokens", "8",
                                "--bench-out", str(out), "-p", "no:cacheprovider", "-rx")
    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 3
    envelope = read_envelopes(out)["knowledge"]
    row = rows_by_name(envelope)["capitals_accuracy"]
    assert row["tags"] == {"cases": "3"} and row["value"] == outcomes.get("passed", 0) / 3
    assert envelope["gen_kwargs"] == {"max_gen_toks": 8, "temperature": 0.0}
    if outcomes.get("xfailed"):
        result.stdout.fnmatch_lines(["*XFAIL*test_capital*wrong_capital*"])


def test_an_unknown_suite_name_is_one_line_naming_the_suites(pytester):
    pytester.makepyfile(test_typo="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("througput")

        def test_x():
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*unknown suite 'througput': use one of throughput, ttft, tool-calling,*math-hard"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*pytest_mlxbench/__init__.py*")
