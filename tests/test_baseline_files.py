"""A baseline directory with what a crash mid-write leaves behind: a cut-short envelope and a
temporary file, both made by a writer really killed part-way (RLIMIT_FSIZE: SIGXFSZ), are passed
over with a note; the whole envelopes beside them are the baseline."""

import json
import resource
import subprocess
import sys

import pytest

from pytest_mlxbench import storage
from pytest_mlxbench.errors import BenchInputError

RUN = """
import pytest_mlxbench
pytestmark = pytest_mlxbench.suite("throughput")

def test_speed(record_metric):
    record_metric("decode_128", "decode_throughput", 100.0, "tok/s", decode_tokens_per_second=100.0)
"""
RULES = '[[rule]]\nsuite = "throughput"\nfield = "decode_tokens_per_second"\nmax_drop_pct = 10\n'


def killed_mid_write(code: str, limit_bytes: int) -> None:
    """Run ``code`` in a Python process that the kernel kills (SIGXFSZ, which Python ignores
    unless told otherwise) once it writes more than ``limit_bytes`` to any file."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    code = f"import signal; signal.signal(signal.SIGXFSZ, signal.SIG_DFL); {code}"
    process = subprocess.run([sys.executable, "-c", code], preexec_fn=limit, capture_output=True)
    assert process.returncode == -25, process.stderr  # SIGXFSZ


def make_baseline(pytester) -> tuple:
    """A recorded run, then a copy of its envelope cut short and a write of ours cut short."""
    pytester.makepyfile(test_speed=RUN)
    assert pytester.runpytest("--bench-out", "baseline", "-p", "no:cacheprovider").ret == 0
    baseline = pytester.path / "baseline"
    [envelope] = baseline.glob("*.json")
    copy = baseline / "copied" / envelope.name
    copy.parent.mkdir()
    killed_mid_write(f"import shutil; shutil.copyfile({str(envelope)!r}, {str(copy)!r})", 300)
    killed_mid_write("from pathlib import Path; from pytest_mlxbench import storage; "
                     f"storage.write_envelope({{'suite': 'x', 'pad': 'x' * 4000}}, Path({str(baseline)!r}))", 300)
    [temporary] = baseline.glob(".tmp-*")
    legacy = temporary.rename(baseline / ".tmp-k2j3h4.json")  # the temporary name of earlier versions
    return baseline, copy, legacy


def test_partial_and_temporary_files_are_passed_over_with_a_note(pytester):
    baseline, copy, legacy = make_baseline(pytester)
    assert 0 < copy.stat().st_size <= 300 and 0 < legacy.stat().st_size <= 300
    envelopes = storage.load_baseline(baseline)
    assert [(env["suite"], env["results"][0]["value"]) for env in envelopes] == [("throughput", 100.0)]
    assert envelopes.notes[0] == f"ignored {legacy}: a temporary file left by an interrupted write"
    assert envelopes.notes[1].startswith(f"ignored {copy}: not valid JSON (")
    assert envelopes.notes[1].endswith("(a partial file left by an interrupted write?)")
    assert len(envelopes.notes) == 2


def test_the_gate_uses_the_whole_envelopes_and_the_run_shows_the_note(pytester):
    baseline, copy, legacy = make_baseline(pytester)
    pytester.path.joinpath("rules.toml").write_text(RULES)
    result = pytester.runpytest("--bench-out", "current", "--bench-thresholds", "rules.toml",
                                "--bench-baseline", str(baseline), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        f"note: --bench-baseline: ignored {legacy}: a temporary file left by an interrupted write",
        f"note: --bench-baseline: ignored {copy}: not valid JSON (*(a partial file left by an interrupted write?)",
        "PASS*throughput::decode_128::decode_tokens_per_second::rule0*",
    ])


def test_a_directory_of_nothing_but_partial_files_is_one_line(tmp_path):
    (tmp_path / "cut.json").write_text('{"schema_version": "1", "suite": "ttf')
    (tmp_path / "cut-utf8.json").write_bytes('{"model": "caf\u00e9'.encode()[:-1])  # cut inside a character
    with pytest.raises(BenchInputError) as error:
        storage.load_baseline(tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"no envelope (*.json) in directory {tmp_path} (ignored {tmp_path / 'cut-utf8.json'}: "
                              "not valid JSON ('utf-8' codec can't decode")
    assert message.endswith(", and 1 more); point to a results directory")


def test_a_given_file_that_is_cut_short_is_still_an_error(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text('{"schema_version": "1"')
    with pytest.raises(BenchInputError, match="baseline.json: not valid JSON"):
        storage.load_baseline(path)


def test_whole_json_that_is_no_envelope_is_still_an_error_in_a_directory(tmp_path, envelope):
    (tmp_path / "good.json").write_text(json.dumps(envelope("ttft", [])))
    (tmp_path / "other.json").write_text('{"some": "tool output"}')
    with pytest.raises(BenchInputError, match="other.json: not a valid result envelope"):
        storage.load_baseline(tmp_path)
