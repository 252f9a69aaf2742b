"""Output directory faults, produced for real: --bench-out that is a file, under a file, on a
read-only or a full file system is one line before any test runs (exit code 4); a disk that fills
during the run keeps the envelopes in a named fallback directory, or prints them as JSON."""

import json
import os
import stat
import sys

import pytest
from support.contract import contract_errors, read_envelopes
from support.private_mounts import full, read_only, read_only_bind, small, with_mounts

from pytest_mlxbench import storage

SUITE = """
import os, pathlib, pytest_mlxbench

pytestmark = pytest_mlxbench.suite("throughput")

def test_measures(record_metric, record_sample):
    pathlib.Path(os.environ["RAN_MARKER"]).write_text("ran")
    record_metric("decode_128", "decode_throughput", 812.5, "tok/s", decode_tokens_per_second=812.5)
    record_sample({"run": 1})
    fill = os.environ.get("FILL_DURING_RUN")
    if fill:  # the disk fills while the run goes on: a filler file takes every free byte
        descriptor = os.open(fill, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(descriptor, bytes(65536)):
                pass
        except OSError:
            pass
        finally:
            os.close(descriptor)
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    pytester.makepyfile(test_suite=SUITE)
    marker = pytester.path / "ran"
    monkeypatch.setenv("RAN_MARKER", str(marker))
    return marker


def run(pytester, *args, mounts=()):
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--capture=sys", *args]
    return pytester.run(*with_mounts(list(mounts), command)) if mounts else pytester.run(*command)


def assert_one_error_line(result, text):
    errors = [line for line in result.errlines + result.outlines if line.startswith("ERROR:")]
    assert errors == [f"ERROR: {text}"], result.errlines + result.outlines
    assert "Traceback" not in "\n".join(result.errlines + result.outlines)


def assert_nothing_ran(result, marker):
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not marker.exists()
    assert "passed" not in result.stdout.str()


# ---------------------------------------------------------------- found before any test runs


def test_a_file_where_the_directory_should_be(pytester, suite):
    (pytester.path / "results").write_text("not a directory")
    result = run(pytester, "--bench-out", "results")
    assert_nothing_ran(result, suite)
    assert_one_error_line(result, f"--bench-out {pytester.path / 'results'} is a file, not a directory: "
                                  "give a directory (it is created if missing)")


def test_under_xdist_the_controller_finds_it_before_any_worker_runs_a_test(pytester, suite):
    (pytester.path / "results").write_text("not a directory")
    result = run(pytester, "--bench-out", "results", "-n", "2")
    assert_nothing_ran(result, suite)
    assert_one_error_line(result, f"--bench-out {pytester.path / 'results'} is a file, not a directory: "
                                  "give a directory (it is created if missing)")


def test_a_missing_parent_that_cannot_be_created_because_it_is_a_file(pytester, suite):
    (pytester.path / "runs").write_text("a file")
    result = run(pytester, "--bench-out", "runs/today/results")
    assert_nothing_ran(result, suite)
    assert_one_error_line(result, f"--bench-out {pytester.path / 'runs/today/results'} cannot be created: "
                                  f"{pytester.path / 'runs'} is a file, not a directory; give another directory")


def test_a_read_only_file_system(pytester, suite):
    (pytester.path / "ro").mkdir()
    for out, problem in (("ro", "is not writable (Read-only file system): free space, fix its permissions or "
                                "give another directory"),
                         ("ro/results", "cannot be created (Read-only file system): give a writable directory")):
        result = run(pytester, "--bench-out", out, mounts=[read_only(pytester.path / "ro")])
        assert_nothing_ran(result, suite)
        assert_one_error_line(result, f"--bench-out {pytester.path / out} {problem}")


def test_a_full_disk(pytester, suite):
    (pytester.path / "full").mkdir()
    result = run(pytester, "--bench-out", "full", mounts=[full(pytester.path / "full")])
    assert_nothing_ran(result, suite)
    assert_one_error_line(result, f"--bench-out {pytester.path / 'full'} is not writable (No space left on device): "
                                  "free space, fix its permissions or give another directory")


def test_the_check_leaves_nothing_behind_when_nothing_is_written(pytester):
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n", test_empty_suite="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("ttft")
        def test_records_nothing():
            pass
    """)
    result = run(pytester, "--bench-out", "runs/today")
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "runs").exists()


# ---------------------------------------------------------------- the disk fills during the run


def test_a_disk_that_fills_during_the_run_keeps_the_envelopes_in_a_named_directory(pytester, suite, monkeypatch):
    out, spare = pytester.path / "out", pytester.path / "spare"
    out.mkdir()
    spare.mkdir()
    monkeypatch.setenv("TMPDIR", str(spare))
    monkeypatch.setenv("FILL_DURING_RUN", str(out / "filler"))
    result = run(pytester, "--bench-out", "out", mounts=[small(out, 256)])

    assert result.ret == pytest.ExitCode.TESTS_FAILED and suite.exists()
    assert "Traceback" not in "\n".join(result.outlines + result.errlines)
    [fallback] = spare.glob("mlxbench-unsaved-*")
    failure = (f"could not write to --bench-out {out} (No space left on device); "
               f"what it could not take is in {fallback} instead")
    assert failure in result.outlines
    envelope = read_envelopes(fallback)["throughput"]
    assert [row["name"] for row in envelope["results"]] == ["decode_128"]
    [samples] = fallback.glob("*.samples.jsonl")
    assert json.loads(samples.read_text()) == {"run": 1}
    result.stdout.fnmatch_lines([f"  envelope: {fallback}/*_throughput_*.json"])


def test_with_no_directory_left_the_envelopes_are_printed_as_json(pytester, suite, monkeypatch):
    """The output directory fills, and every directory Python would make a temporary directory in
    is read-only (TMPDIR, /tmp, /var/tmp, /usr/tmp and the working directory), in the run's own
    mount namespace only."""
    out, spare, marker = pytester.path / "out", pytester.path / "spare", pytester.path / "marker"
    for directory in (out, spare, marker):
        directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(spare))
    for name in ("TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FILL_DURING_RUN", str(out / "filler"))
    monkeypatch.setenv("RAN_MARKER", str(marker / "ran"))
    read_only_places = [read_only_bind(place) for place in ("/tmp", "/var/tmp", "/usr/tmp", pytester.path)]
    result = run(pytester, "--bench-out", "out", mounts=[*read_only_places, small(out, 256), small(marker, 16)])

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in "\n".join(result.outlines + result.errlines)
    failure = (f"could not write to --bench-out {out} (No space left on device), nor to a temporary directory "
               "(No usable temporary directory found")
    [line] = [line for line in result.outlines if line.startswith("could not write")]
    assert line.startswith(failure) and line.endswith(
        "; the envelopes not written follow as JSON; 1 sample-log line(s) could not be kept")
    [printed] = [json.loads(line) for line in result.outlines if line.startswith("{")]
    assert contract_errors(printed) == []
    assert printed["suite"] == "throughput" and printed["results"][0]["value"] == 812.5
    result.stdout.fnmatch_lines(["  envelope: not written (below as JSON)"])


# ---------------------------------------------------------------- the user's file mode


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        paths = [storage.write_envelope({"suite": "ttft"}, tmp_path),
                 storage.write_lines(tmp_path, "samples", ".jsonl", [{}])]
    finally:
        os.umask(previous)
    assert {stat.S_IMODE(path.stat().st_mode) for path in paths} == {mode}
    assert sorted(tmp_path.iterdir()) == sorted(paths)  # no temporary file left


def test_envelopes_and_sample_logs_of_a_run_follow_the_umask(pytester, suite):
    previous = os.umask(0o002)
    try:
        run(pytester, "--bench-out", "out")
    finally:
        os.umask(previous)
    files = sorted((pytester.path / "out").iterdir())
    assert [path.suffix for path in files] == [".json", ".jsonl"]
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o664}
