"""What runs in the candidate's process, once it is confined: its program, then either serving
the judge's calls (the judge decides the verdict) or, in process, the program's own checks.

Serving: descriptor 3 brings call frames ``("call", name, args, kwargs)`` from the judge,
descriptor 4 takes the answers back: first ``("ready",)`` or ``("load_error", kind, type, name, message)``
once the program has run, then per call ``("ok", value)``, ``("raised", kind, type, name, message)``,
``("unencodable", why)`` or ``("missing", name)``. Nothing here can decide a verdict: a
candidate that rewrites this code only changes what it answers.

In process (the old way, for tests a proxy cannot serve): the program holds the checks; exit
code 0 *and* the nonce the zygote wrote to descriptor 3 after the fork, echoed on descriptor 4
once the program has returned, make a pass. Code written against this runner could forge that
proof, which is why such verdicts are tagged ``isolation=in_process``.
"""

from __future__ import annotations

import builtins
import errno
import os
import sys
import types

import codec

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR, EXIT_RESOURCE, EXIT_SETUP = 0, 1, 2, 3, 125
_IN_FD, _OUT_FD = 3, 4
_RESOURCE_ERRNOS = (errno.EFBIG, errno.ENOSPC, errno.EDQUOT)
_WORKER_MODULES = ("codec", "confine", "candidate", "judge", "rootfs", "zygote", "spares", "watch", "cgroup", "main")


def serve(source: str, message_bytes: int, _read=codec.read_frame, _write=codec.write_frame) -> None:
    """Run the program, then answer calls until the judge closes its end. Never returns."""
    namespace = _fresh_main()
    try:
        exec(compile(source, "program.py", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - the program's failure is reported, not raised
        _answer(_write, ("load_error", *describe(exc)), message_bytes)
        _finish(EXIT_ERROR)
    _answer(_write, ("ready",), message_bytes)
    while True:
        try:
            request = codec.decode(_read(_IN_FD, message_bytes))
        except (codec.ChannelClosed, OSError):
            _finish(EXIT_PASSED)
        _, name, args, kwargs = request
        function = namespace.get(name)
        if not callable(function):
            _answer(_write, ("missing", name), message_bytes)
            continue
        try:
            value = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            _answer(_write, ("raised", *describe(exc)), message_bytes)
            continue
        _answer(_write, ("ok", value), message_bytes)


def _answer(write, message: tuple, message_bytes: int) -> None:
    try:
        payload = codec.encode(message, message_bytes)
    except codec.Unencodable as exc:
        payload = codec.encode(("unencodable", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - e.g. MemoryError while encoding
        payload = codec.encode(("raised", *describe(exc)))
    _flush_standard_streams()
    try:
        write(_OUT_FD, payload)
    except OSError:
        _finish(EXIT_ERROR)  # the judge is gone


def run_in_process(source: str, _read=os.read, _write=os.write, _exit=os._exit) -> None:
    """The old runner: exec the program, prove a pass with the nonce, report anything else by exit code."""
    namespace = _fresh_main()
    code, summary = EXIT_PASSED, ""
    try:
        exec(compile(source, "program.py", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001
        kind, _, name, message = describe(exc)
        code = {"failed": EXIT_FAILED, "resource": EXIT_RESOURCE}.get(kind, EXIT_ERROR)
        summary = f"{name}: {message}" if message else name
    _flush_standard_streams()
    try:
        if code == EXIT_PASSED:
            _write(_OUT_FD, _read(_IN_FD, 64))
        else:
            _write(_OUT_FD, b"F" + summary.encode("utf-8", "replace")[:500])
    except OSError:
        pass
    _exit(code)


def describe(exc: BaseException) -> tuple[str, str, str, str]:
    """(kind, nearest builtin type's name, own type's name, first line of the message); the
    traceback goes to stderr."""
    try:
        import traceback

        below_runner = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, below_runner, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - hostile __str__ or a broken stderr
        pass
    if isinstance(exc, AssertionError):
        kind = "failed"
    elif isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS):
        kind = "resource"
    else:
        kind = "error"
    return kind, _builtin_type_name(exc), _own_type_name(exc), _first_line(exc)


def _builtin_type_name(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "Exception"


def _own_type_name(exc: BaseException) -> str:
    try:
        return str(type(exc).__name__)[:80]
    except BaseException:  # noqa: BLE001
        return "Exception"


def _first_line(exc: BaseException) -> str:
    try:
        lines = str(exc).splitlines()
        return lines[0][:500] if lines else ""
    except BaseException:  # noqa: BLE001
        return "(an exception that cannot be described)"


def _fresh_main() -> dict:
    for name in _WORKER_MODULES:
        sys.modules.pop(name, None)
    sys.path[:] = [entry for entry in sys.path if not entry.endswith(os.sep + "worker")]
    sys.argv = ["program.py"]
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__="program.py", __builtins__=builtins)
    sys.modules["__main__"] = module
    return module.__dict__


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


def _finish(code: int) -> None:
    _flush_standard_streams()
    os._exit(code)
