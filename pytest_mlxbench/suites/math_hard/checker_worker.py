"""The answer-checking process of the math-hard suite: math-verify and sympy, away from the run.

Started by ``equivalence.AnswerChecker`` as ``python -m pytest_mlxbench.suites.math_hard.checker_worker``.
It reads one JSON request per line on stdin and writes one JSON reply per line on stdout; the
first line it writes is ``{"ready": true}`` (or ``{"unavailable": "<one line>"}`` when a library is
missing). The parent kills it when a check runs past its time limit: sympy can hang on hostile
input inside C code, where no signal reaches, so only a separate process is safe to stop.

Requests: ``{"op": "math_verify", "answer", "reference"}`` → ``{"equivalent", "parsed": [answer,
reference]}``; ``{"op": "minerva", "answer", "reference"}`` → ``{"equivalent"}``.
"""

from __future__ import annotations

import json
import os
import signal
import sys

MEMORY_LIMIT_BYTES = 4 * 1024**3
MINERVA_SYMPY_SECONDS = 5  # lm-eval's limit for its sympy comparison (a timeout there is "not equal")


def limit_memory() -> None:
    """Cap the address space on Linux; macOS does not enforce RLIMIT_AS, so there the parent's time
    limit is the only bound."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass


def load_libraries():
    from math_verify import LatexExtractionConfig, parse, verify
    from sympy import simplify
    from sympy.parsing.latex import parse_latex

    parse_latex("1")  # raises ImportError without antlr4-python3-runtime 4.11
    return LatexExtractionConfig, parse, verify, simplify, parse_latex


def math_verify_check(libraries, answer: str, reference: str) -> dict:
    config, parse, verify, _, _ = libraries
    # Both sides are read as LaTeX only (no sympy parse_expr, which evaluates Python), without
    # math-verify's own signal timeouts: the parent's deadline decides.
    parsed_reference = parse(f"\\boxed{{{reference}}}", extraction_config=[config()], parsing_timeout=None)
    parsed_answer = parse(f"\\boxed{{{answer}}}", extraction_config=[config()], parsing_timeout=None)
    equivalent = bool(verify(parsed_reference, parsed_answer, timeout_seconds=None))
    return {"equivalent": equivalent, "parsed": [str(parsed_answer[:1]), str(parsed_reference[:1])]}


def minerva_check(libraries, answer: str, reference: str) -> dict:
    """lm-eval's ``is_equiv`` for minerva_math: identical, or parsed and simplified to a zero difference."""
    if answer and answer == reference:
        return {"equivalent": True}
    _, _, _, simplify, parse_latex = libraries

    def give_up(signum, frame):
        raise TimeoutError

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(MINERVA_SYMPY_SECONDS)
    try:
        return {"equivalent": bool(simplify(parse_latex(answer) - parse_latex(reference)) == 0)}
    except Exception:  # noqa: BLE001 - lm-eval counts every failure here as "not equal"
        return {"equivalent": False}
    finally:
        signal.alarm(0)


def main() -> None:
    protocol = sys.stdout
    sys.stdout = sys.stderr  # a stray print from a library must not corrupt the protocol
    limit_memory()
    try:
        libraries = load_libraries()
    except ImportError as error:
        protocol.write(json.dumps({"unavailable": str(error).splitlines()[0]}) + "\n")
        protocol.flush()
        return
    protocol.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    protocol.flush()
    checks = {"math_verify": math_verify_check, "minerva": minerva_check}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = checks[request["op"]](libraries, request["answer"], request["reference"])
        except (Exception, MemoryError, RecursionError) as error:  # noqa: BLE001 - reported, not fatal
            reply = {"equivalent": False, "error": f"{type(error).__name__}: {str(error)[:200]}"}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
