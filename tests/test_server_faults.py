"""A server that answers HTTP 5xx or garbage, or drops connections, through the real openai client:
every server suite reports one line with the status and the start of the body (never a
JSONDecodeError or an openai traceback); what is safe to resend is resent a bounded number of
times and counted in the envelope; what is not stays a harness error."""

import re
import time
from pathlib import Path

import pytest
from support.contract import read_envelopes
from support.stub_server import (
    CLOSE,
    RESET,
    RESET_MID_BODY,
    Answer,
    Drop,
    StubServer,
    in_turn,
)

from pytest_mlxbench.backends import chat
from pytest_mlxbench.backends.endpoint import Endpoint

ROOT = Path(__file__).resolve().parents[1]
HTML_500 = Answer(500, b"<html><body><h1>500</h1> upstream model crashed: CUDA error 719" + b" padding" * 40
                  + b"</body></html>", "text/html")
NOT_JSON = Answer(200, b"<html>Welcome to the hotel wifi. Accept the terms to continue.</html>", "text/html")
BROKEN_JSON = Answer(200, b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "hel')
HEADER = re.compile(r"^_{3,} (?P<test>\S.*?) _{3,}$")


def failure_blocks(result) -> dict[str, list[str]]:
    """The FAILURES section: each failed test's lines (blank lines left out)."""
    blocks, current = {}, None
    for line in result.outlines:
        match = HEADER.match(line)
        if match:
            current = blocks.setdefault(match["test"], [])
        elif line.startswith("=" * 10):
            current = None
        elif current is not None and line.strip():
            current.append(line)
    return blocks


def run_suites(pytester, stub: StubServer, *args):
    return pytester.runpytest_subprocess(
        str(ROOT / "bench_suites"), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "--mlx-base-url", stub.base_url,
        "--bench-out", str(pytester.path / "out"), *args)


def assert_one_line_each(result, *fragments) -> dict[str, list[str]]:
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output and "JSONDecodeError" not in output
    assert "openai/_base_client.py" not in output and "site-packages" not in output
    blocks = failure_blocks(result)
    for test, lines in blocks.items():
        assert len(lines) == 1, (test, lines)
        assert all(fragment in lines[0] for fragment in fragments), (test, lines[0])
    return blocks


# ---------------------------------------------------------------- every server suite


@pytest.mark.parametrize(("answer", "fragments"), [
    (HTML_500, ["the server answered HTTP 500", "'<html><body><h1>500</h1> upstream model crashed: CUDA error 719"]),
    (NOT_JSON, ["the server answered HTTP 200 with no ", "Welcome to the hotel wifi"]),
], ids=["http-500", "not-json"])
def test_every_server_suite_fails_each_test_in_one_line_with_status_and_body(pytester, answer, fragments):
    """The first test of every suite that talks to the server (all but the in-process throughput),
    against a server that answers every request, GET /models included, with the fault."""
    with StubServer(lambda request: answer, models=answer) as stub:
        result = run_suites(pytester, stub, "-m", "not throughput", "--bench-limit", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    blocks = assert_one_line_each(result, *fragments)
    envelopes = read_envelopes(pytester.path / "out")
    assert {"ttft", "tool-calling", "code-accuracy", "framework-eval"} <= set(envelopes)
    assert len(blocks) == len(envelopes)  # one failed test per suite, each a harness error
    assert "throughput" not in envelopes
    for envelope in envelopes.values():
        assert any(fragments[1] in error for error in envelope["errors"]), envelope["suite"]


@pytest.mark.parametrize("answer", [HTML_500, BROKEN_JSON], ids=["http-500", "cut-json"])
def test_each_agent_framework_run_fails_in_one_line_with_status_and_body(pytester, answer):
    """Frameworks use their own clients; the suite's harness check names the server's answer."""
    with StubServer(lambda request: answer) as stub:
        result = run_suites(pytester, stub, "-m", "framework-eval", "-k", "order-status")
    blocks = assert_one_line_each(result, "harness error, not a", "the server does not answer chat requests: "
                                  "the server answered HTTP")
    runners = {test.split("[")[1].removesuffix("-order-status]") for test in blocks}
    assert runners == {"baseline", "openai-agents", "smolagents", "langgraph", "pydantic-ai"}


# ---------------------------------------------------------------- what is resent, and what is not


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(chat, "RETRY_DELAYS_S", (0.05, 0.1, 0.2))
    chat.take_retries()


def ask(stub: StubServer):
    endpoint = Endpoint(stub.base_url, api_key="sk-secret-key-0123", model="stub-model")
    with endpoint.client() as client:
        request = {"model": endpoint.model, "messages": [{"role": "user", "content": "hi"}]}
        return chat.complete(client, endpoint, request)


@pytest.mark.parametrize(("fault", "reason"), [
    (Drop(CLOSE), "connection closed before the response"),
    (Drop(RESET), "connection reset before the response"),
    (Answer(503, b"overloaded", "text/plain"), "HTTP 503"),
    (Answer(429, b'{"error": "slow down"}'), "HTTP 429"),
])
def test_a_transient_failure_is_resent_and_counted(fast_backoff, fault, reason):
    with StubServer(in_turn([fault, fault], then="fine")) as stub:
        completion = ask(stub)
        assert len(stub.requests) == 3
    assert completion.text == "fine" and completion.retries == 2
    assert chat.take_retries() == [reason, reason]
    assert completion.latency_s < 0.05  # the answered attempt only, not the waits before it


def test_retries_are_bounded_and_a_request_that_still_fails_is_one_line(fast_backoff):
    with StubServer(lambda request: Drop(RESET)) as stub:
        started = time.perf_counter()
        with pytest.raises(chat.RequestFailed) as failure:
            ask(stub)
        assert len(stub.requests) == 1 + len(chat.RETRY_DELAYS_S)
    assert time.perf_counter() - started >= sum(chat.RETRY_DELAYS_S)
    assert str(failure.value) == ("connection reset before the response (ConnectionResetError: [Errno 104] "
                                  "Connection reset by peer) (after 3 retries)")
    assert len(chat.take_retries()) == 3


def test_retry_after_is_honoured_up_to_a_cap(fast_backoff):
    with StubServer(in_turn([Answer(503, b"busy", "text/plain", {"Retry-After": "1"})], then="fine")) as stub:
        started = time.perf_counter()
        assert ask(stub).retries == 1
    assert time.perf_counter() - started >= 1.0


@pytest.mark.parametrize(("fault", "message"), [
    (Drop(RESET_MID_BODY), "connection reset after the response started (ConnectionResetError: [Errno 104] "
                           "Connection reset by peer)"),
    (Answer(500, b'{"error": {"message": "boom for sk-secret-key-0123"}}'),
     "the server answered HTTP 500: '{\"error\": {\"message\": \"boom for ***\"}}'"),
    (Answer(502, b""), "the server answered HTTP 502: (empty body)"),
    (NOT_JSON, "the server answered HTTP 200 with no chat completion: '<html>Welcome to the hotel wifi. Accept the "
               "terms to continue.</html>'"),
    (BROKEN_JSON, "the server answered HTTP 200 with no chat completion: '{\"id\": \"chatcmpl-1\", \"choices\": "
                  "[{\"message\": {\"content\": \"hel'"),
    (Answer(200, b'{"choices": []}'), "the server answered HTTP 200 with no chat completion: '{\"choices\": []}'"),
])
def test_what_is_not_safe_to_resend_fails_at_once_in_one_line(fast_backoff, fault, message):
    with StubServer(in_turn([fault], then="fine")) as stub:
        with pytest.raises(chat.RequestFailed) as failure:
            ask(stub)
        assert len(stub.requests) == 1
    assert str(failure.value) == message
    assert chat.take_retries() == []


def test_a_long_body_is_cut_at_200_characters():
    with StubServer(lambda request: Answer(500, b"x" * 1000, "text/plain")) as stub:
        with pytest.raises(chat.RequestFailed) as failure:
            ask(stub)
    assert str(failure.value) == f"the server answered HTTP 500: '{'x' * 200}'..."


# ---------------------------------------------------------------- end to end, counted per suite


def test_a_dropped_connection_is_resent_and_the_envelope_counts_it(pytester):
    """Each tool-calling case's first request is dropped before any byte of the response: every
    case still gets its verdict, and the envelope counts the retries."""
    dropped = set()

    def reply(request):
        case = request["messages"][-1]["content"]
        if case not in dropped:
            dropped.add(case)
            return Drop(CLOSE)
        return "I cannot call a tool."

    with StubServer(reply) as stub:
        result = run_suites(pytester, stub, "-m", "tool-calling", "--bench-limit", "3")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=3, deselected=result.parseoutcomes()["deselected"])
    envelope = read_envelopes(pytester.path / "out")["tool-calling"]
    assert ("transport: 3 request(s) sent again after a transient failure (3 connection closed before the "
            "response); each case counts once, by the answer it finally got") in envelope["errors"]


def test_a_server_that_stays_unavailable_is_a_harness_error_after_the_retries(pytester):
    with StubServer(lambda request: Answer(503, b"model is loading", "text/plain")) as stub:
        result = run_suites(pytester, stub, "-m", "tool-calling", "--bench-limit", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    [lines] = assert_one_line_each(result).values()
    assert lines == ["request failed (harness error, not a model miss): the server answered HTTP 503: "
                     "'model is loading' (after 3 retries)"]
    envelope = read_envelopes(pytester.path / "out")["tool-calling"]
    assert any(error.startswith("transport: 3 request(s) sent again") for error in envelope["errors"])
