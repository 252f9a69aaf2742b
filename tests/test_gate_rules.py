"""Rules files: the keys of a rule, pyproject.toml's table, and every bad-input path as one line."""

from __future__ import annotations

import pytest
from support.gate import assert_one_line, write_rules

from pytest_mlxbench import gate
from pytest_mlxbench.errors import BenchInputError

TP = '[[rule]]\nsuite = "throughput"\n'  # the start of a throughput rule
TTFT = '[[rule]]\nsuite = "ttft"\n'


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (TP + "min = \n", ("invalid TOML", "line 3")),
        (TP + "max_drop = 10\n", ("rule 0 (throughput/*)", "unknown key 'max_drop'", "did you mean 'max_drop_pct'")),
        (
            TTFT + 'max = 3\n[[rule]]\nname = "p50"\nmax = 3\n',
            ("rule 1 (?/p50)", "missing 'suite'", "throughput, ttft"),
        ),
        ('[[rule]]\nsuite = "througput"\nmin = 1\n', ("rule 0 (througput/*)", "did you mean 'throughput'")),
        (TP + 'min = "20"\n', ("rule 0 (throughput/*)", "'min' must be a finite number, got '20'")),
        (TP + "max_drop_pct = true\n", ("'max_drop_pct' must be a finite number, got True",)),
        (TP + "max = nan\n", ("'max' must be a finite number",)),
        (TP + "max_drop_pct = -5\n", ("'max_drop_pct' must be >= 0",)),
        (TP + "min = 5\nmax = 1\n", ("min 5 is above max 1",)),
        (TP + 'name = "decode_*"\n', ("rule 0 (throughput/decode_*)", "no bound")),
        (TP + 'field = "decode_tok_per_second"\nmin = 1\n', ("did you mean 'decode_tokens_per_second'",)),
        (TP + 'field = "tags"\nmin = 1\n', ("field 'tags' is not a numeric result field",)),
        (TTFT + 'max = 1\nhigher_is_better = "no"\n', ("'higher_is_better' must be true or false",)),
        (TTFT + "name = 5\nmax = 1\n", ("'name' must be a non-empty string",)),
        ('[[rules]]\nsuite = "ttft"\nmax = 1\n', ("unknown top-level key 'rules'", "did you mean 'rule'")),
        ('[rule]\nsuite = "ttft"\nmax = 1\n', ("array of tables", "[[rule]]")),
        ("# nothing yet\n", ("no rules",)),
    ],
)
def test_bad_rule_file_is_one_line_naming_file_and_rule(tmp_path, text, fragments):
    path = write_rules(tmp_path, text)
    with pytest.raises(BenchInputError) as error:
        gate.load_rules(path)
    assert_one_line(error, str(path), *fragments)


def test_missing_rule_file(tmp_path):
    with pytest.raises(BenchInputError) as error:
        gate.load_rules(tmp_path / "nope.toml")
    assert_one_line(error, "nope.toml does not exist")


def test_rules_from_pyproject(tmp_path, envelope):
    path = write_rules(
        tmp_path,
        '[project]\nname = "x"\n\n[tool.mlxbench]\nresults_dir = "bench-results"\n\n'
        '[[tool.mlxbench.rule]]\nsuite = "ttft"\nname = "p99"\nmax = 60\n',
        name="pyproject.toml",
    )
    [rule] = gate.rules_from_pyproject(path)
    assert (rule.suite, rule.name, rule.max, rule.source) == ("ttft", "p99", 60.0, f"{path} [tool.mlxbench]")
    assert gate.load_rules(path) == [rule]  # a thresholds path may point at pyproject.toml
    p99 = {"name": "p99", "metric": "ttft", "value": 70.0, "unit": "ms"}
    [outcome] = gate.evaluate([rule], [envelope("ttft", [p99])])
    assert outcome.status == "failed" and outcome.id == "ttft::p99::value::rule0"


def test_pyproject_without_rules_has_none(tmp_path):
    assert gate.rules_from_pyproject(write_rules(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")) == []


def test_pyproject_errors_name_the_table(tmp_path):
    path = write_rules(tmp_path, '[[tool.mlxbench.rules]]\nsuite = "ttft"\nmax = 1\n', "pyproject.toml")
    with pytest.raises(BenchInputError) as error:
        gate.rules_from_pyproject(path)
    assert_one_line(error, f"{path} [tool.mlxbench]", "unknown key 'rules'", "[[tool.mlxbench.rule]]")
    path.write_text('[[tool.mlxbench.rule]]\nsuite = "ttft"\nmax_rise = 1\n')
    with pytest.raises(BenchInputError) as error:
        gate.rules_from_pyproject(path)
    assert_one_line(error, f"{path} [tool.mlxbench]: rule 0 (ttft/*)", "did you mean 'max_rise_pct'")


@pytest.mark.parametrize("value", ["0", '"3"', "true", "2.5"])
def test_min_repeats_must_be_a_whole_number_of_at_least_one(tmp_path, value):
    path = write_rules(tmp_path, TP + f"max_drop_pct = 10\nmin_repeats = {value}\n")
    with pytest.raises(BenchInputError) as error:
        gate.load_rules(path)
    assert_one_line(error, str(path), "rule 0 (throughput/*)", "'min_repeats' must be a whole number >= 1")


def test_min_repeats_is_part_of_the_rule_and_its_limits(tmp_path):
    [rule] = gate.load_rules(write_rules(tmp_path, TP + "max_drop_pct = 10\nmin_repeats = 3\n"))
    assert rule.min_repeats == 3 and rule.describe_limits() == "drop <= 10%, min_repeats 3"
