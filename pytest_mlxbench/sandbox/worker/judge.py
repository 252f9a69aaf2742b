"""The judge: runs the dataset's test code in its own process, with ``candidate`` bound to a
proxy that forwards calls to the candidate's process, and decides the verdict from what comes
back as plain data. One judge process serves a worker's jobs one after the other (see
``spares``); no candidate can reach it, so nothing carries over from one candidate to the next.

Descriptors of a job (installed by ``spares``): 3 brings the check from the parent (an encoded
dict: ``context``, ``test``, ``entry_point``, ``expose``, ``data``, ``call_timeout_s``,
``message_bytes``), 4 takes the result to the parent, 5 and 6 are the call channel to the
candidate. The candidate never holds 3 or 4, so the test code and its expected values never
exist in the candidate's memory, and the verdict never passes through its hands.

Names in the test code's globals: everything ``context`` defines (e.g. the prompt's helper
functions), then ``candidate`` and the entry point's own name (the proxy), each name in
``expose`` (a proxy to that function of the candidate), ``DATA`` (the check's data) and
``record(value)`` (appends plain data to the result's ``outputs``). ``candidate.call(args,
kwargs=None, timeout_s=None)`` calls with a time limit of its own; ``candidate.last_call_s`` is
the duration of the last call.
"""

from __future__ import annotations

import builtins
import sys
import time

import codec

_CHECK_FD, _RESULT_FD, _CALL_FD, _ANSWER_FD = 3, 4, 5, 6
_SOURCES = ("<context>", "<test>")


class CandidateGone(BaseException):
    """The candidate's process ended (or broke the protocol) during a call."""


class CallTimedOut(BaseException):
    """A call took longer than its limit."""


class ReturnedUnencodable(BaseException):
    """The candidate returned something that is not plain data."""


class CannotProxy(BaseException):
    """The test passes something to the candidate that cannot cross processes."""


class Channel:
    """Call frames to the candidate and answers back, one call at a time. The candidate's first
    frame says whether its program loaded; it is read before the first answer, so the first call
    need not wait for it (one round trip fewer)."""

    def __init__(self, message_bytes: int) -> None:
        self.message_bytes = message_bytes
        self.calls = 0
        self.last_call_s = 0.0
        self._loaded = False

    def await_loaded(self) -> None:
        if self._loaded:
            return
        answer = self.receive(None)
        if answer[0] == "load_error" and len(answer) == 5:
            raise candidate_exception(*answer[1:])
        if answer != ("ready",):
            raise CandidateGone("the candidate broke the call protocol")
        self._loaded = True

    def receive(self, deadline: float | None) -> tuple:
        try:
            answer = codec.decode(codec.read_frame(_ANSWER_FD, self.message_bytes, deadline))
        except codec.ChannelClosed:
            raise CandidateGone("the candidate's process ended during a call") from None
        except codec.DecodeError as exc:
            raise ReturnedUnencodable(f"the candidate's answer is not plain data ({exc})") from None
        if not isinstance(answer, tuple) or not answer or not isinstance(answer[0], str):
            raise CandidateGone("the candidate broke the call protocol")
        return answer

    def call(self, name: str, args: tuple, kwargs: dict, timeout_s: float | None) -> object:
        try:
            request = codec.encode(("call", name, tuple(args), dict(kwargs)), self.message_bytes)
        except codec.Unencodable as exc:
            raise CannotProxy(f"the test passes {exc} to the candidate, which cannot cross processes") from None
        self.calls += 1
        try:
            codec.write_frame(_CALL_FD, request)
        except OSError:
            raise CandidateGone("the candidate's process ended before a call") from None
        self.await_loaded()  # the program's own start-up does not count against the call's limit
        started = time.monotonic()
        try:
            answer = self.receive(None if timeout_s is None else started + timeout_s)
        except codec.ChannelTimeout:
            raise CallTimedOut(f"call {self.calls} took longer than its limit of {timeout_s:g} s") from None
        finally:
            self.last_call_s = time.monotonic() - started
        return _unpack(answer)


def _unpack(answer: tuple) -> object:
    status = answer[0]
    if status == "ok" and len(answer) == 2:
        return answer[1]
    if status == "raised" and len(answer) == 5:
        raise candidate_exception(*answer[1:])
    if status == "missing" and len(answer) == 2:
        raise candidate_exception("error", "NameError", "NameError", f"name {answer[1]!r} is not defined")
    if status == "unencodable" and len(answer) == 2:
        raise ReturnedUnencodable(f"returned {answer[1]}")
    raise CandidateGone("the candidate broke the call protocol")


def candidate_exception(kind: object, type_name: object, name: object, message: object) -> BaseException:
    """The candidate's exception, re-created as its nearest builtin type so tests can catch it."""
    cls = getattr(builtins, str(type_name), None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = Exception
    try:
        exc = cls.__new__(cls)
        BaseException.__init__(exc, str(message))
    except Exception:  # noqa: BLE001 - a builtin that refuses a plain message
        exc = Exception(str(message))
    exc.mlxbench_candidate = (str(kind), str(name), str(message))
    return exc


class Proxy:
    """Stands for one function of the candidate: calling it calls the function over there."""

    def __init__(self, channel: Channel, name: str, timeout_s: float | None) -> None:
        self.__name__ = self.__qualname__ = name
        self._channel = channel
        self._timeout_s = timeout_s

    @property
    def last_call_s(self) -> float:
        """Seconds the last call took, from the request to the answer."""
        return self._channel.last_call_s

    def __call__(self, *args, **kwargs):
        return self.call(args, kwargs)

    def call(self, args=(), kwargs=None, timeout_s=None):
        return self._channel.call(self.__name__, args, kwargs or {}, self._timeout_s if timeout_s is None else timeout_s)

    def __repr__(self) -> str:
        return f"<candidate function {self.__name__}>"


def run_job() -> None:
    """Read the check, run it against the candidate, write the result to the parent."""
    check = codec.decode(codec.read_to_end(_CHECK_FD))
    channel = Channel(int(check["message_bytes"]))
    outputs: list = []
    sources = {"<context>": check.get("context") or "", "<test>": check["test"]}
    try:
        namespace = {"__name__": "__judge__", "__builtins__": builtins}
        exec(compile(sources["<context>"], "<context>", "exec"), namespace)
        timeout_s = check.get("call_timeout_s")
        proxy = Proxy(channel, check["entry_point"], timeout_s)
        namespace.update({name: Proxy(channel, name, timeout_s) for name in check.get("expose") or ()})
        namespace.update({check["entry_point"]: proxy, "candidate": proxy, "DATA": check.get("data"),
                          "record": outputs.append})
        exec(compile(sources["<test>"], "<test>", "exec"), namespace)
        channel.await_loaded()  # a test that never called still needs a program that loads
    except BaseException as exc:  # noqa: BLE001 - every outcome becomes a verdict
        result = {**verdict_of(exc), "failing_line": _failing_line(exc, sources)}
        _print_traceback(exc, sources)
        exc.__traceback__ = None  # frames hold the job's test data: let it go now
    else:
        result = {"verdict": "passed", "detail": "all checks passed", "failing_line": None}
    result.update(calls=channel.calls, outputs=outputs)
    _report(result)


def verdict_of(exc: BaseException) -> dict:
    """The verdict an exception that ended the test code stands for."""
    from_candidate = getattr(exc, "mlxbench_candidate", None)
    if from_candidate is not None:
        kind, name, message = from_candidate
        verdict = {"failed": "failed", "resource": "killed"}.get(kind, "error")
        return {"verdict": verdict, "detail": f"{name}: {message}" if message else name}
    for cls, verdict in ((CandidateGone, "died"), (CallTimedOut, "timeout"), (ReturnedUnencodable, "unencodable"),
                         (CannotProxy, "error"), (AssertionError, "failed"), (MemoryError, "killed")):
        if isinstance(exc, cls):
            return {"verdict": verdict, "detail": _summary(exc), "needs_in_process": cls is CannotProxy}
    return {"verdict": "error", "detail": _summary(exc)}


def _summary(exc: BaseException) -> str:
    name = type(exc).__name__
    lines = str(exc).splitlines()
    if isinstance(exc, (CandidateGone, CallTimedOut, ReturnedUnencodable, CannotProxy)):
        return lines[0] if lines else name
    return f"{name}: {lines[0]}" if lines else name


def _failing_line(exc: BaseException, sources: dict[str, str]) -> str | None:
    """The source line of the innermost frame in the test or context code (e.g. the failed assert)."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_filename in _SOURCES:
            lines = sources[code.co_filename].splitlines()
            if 1 <= trace.tb_lineno <= len(lines):
                line = lines[trace.tb_lineno - 1].strip() or line
        trace = trace.tb_next
    return line


def _print_traceback(exc: BaseException, sources: dict[str, str]) -> None:
    """The test's traceback, with its source lines, to the job's stderr (the judge's tail)."""
    import linecache
    import traceback

    for name, text in sources.items():
        linecache.cache[name] = (len(text), None, text.splitlines(keepends=True), name)
    try:
        below_runner = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, below_runner, file=sys.stderr)
    finally:
        for name in sources:
            linecache.cache.pop(name, None)


def _report(result: dict) -> None:
    try:
        payload = codec.encode(result)
    except codec.Unencodable as exc:
        payload = codec.encode({"verdict": "error", "detail": f"the test recorded {exc}", "failing_line": None,
                                "calls": result["calls"], "outputs": []})
    codec.write_frame(_RESULT_FD, payload)
