"""math-verify equivalence through the checker process: a hand-written table of (final answer,
reference, verdict) pairs in the forms MATH answers take, and the time limit on hostile input."""

from __future__ import annotations

import time

import pytest

from pytest_mlxbench.suites.math_hard.equivalence import (
    AnswerChecker,
    CheckerTimeout,
    CheckerUnavailable,
)

EQUIVALENT = [
    # numbers, fractions, decimals
    ("3", "3"), ("3.0", "3"), ("0.5", r"\frac{1}{2}"), (r"\frac{1}{2}", "0.5"), (r"\dfrac{1}{2}", r"\frac{1}{2}"),
    (r"\tfrac{3}{4}", r"\frac34"), (r"\frac{2}{4}", r"\frac{1}{2}"), ("-7", "-7"), (r"-\frac{2}{3}", r"\frac{-2}{3}"),
    ("1,000", "1000"), ("1{,}000", "1000"), (r"\frac{6}{3}", "2"),
    # radicals, pi, expressions
    (r"2\sqrt{2}", r"\sqrt{8}"), (r"\sqrt{2}/2", r"\frac{\sqrt{2}}{2}"), (r"\frac{\pi}{2}", r"\pi/2"),
    (r"3\pi", r"3 \pi"), ("x^2+2x+1", "(x+1)^2"), ("2x+3", "3+2x"), (r"\frac{1}{\sqrt{2}}", r"\frac{\sqrt{2}}{2}"),
    (r"e^{0}", "1"), (r"2^{10}", "1024"), (r"\binom{5}{2}", "10"), ("5!", "120"),
    # delimiters, text, units, degrees
    (r"\left(3, \frac{\pi}{2}\right)", r"\left( 3, \frac{\pi}{2} \right)"), (r"90^\circ", "90"), (r"90^{\circ}", "90"),
    (r"\text{5}", "5"), (r"5\text{ cm}", "5"), (r"\$18", "18"), (r"18 \text{ dollars}", "18"), (r"\mathbf{7}", "7"),
    # equations and variables
    ("x = 3", "3"), ("y=-2", "-2"), (r"k = \frac{1}{2}", "0.5"),
    # intervals, sets, tuples
    ("[2,5)", "[2,5)"), (r"(-\infty, 3]", r"(-\infty,3]"), (r"(0, \infty)", r"(0,\infty)"),
    (r"\{1,2,3\}", r"\{3,2,1\}"), ("(1,2)", "(1, 2)"), (r"[1,2] \cup [3,4]", r"[1,2]\cup[3,4]"),
    # matrices and vectors
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
    (r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}", r"\begin{pmatrix}1&0\\0&1\end{pmatrix}"),
]
NOT_EQUIVALENT = [
    (r"\frac{1}{2}", "2"), ("2", r"\frac{1}{2}"), ("(1,2)", "[1,2]"), ("[1,2)", "[1,2]"), ("(0,1]", "[0,1)"),
    ("3", "4"), ("-3", "3"), ("0.33", r"\frac{1}{3}"), (r"\sqrt{2}", "2"), (r"2\pi", r"\pi"), ("x+1", "x-1"),
    (r"\{1,2\}", r"\{1,2,3\}"), ("(1,2)", "(2,1)"), (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}2\\1\end{pmatrix}"),
    ("x = 3", "4"), ("1000", "100"), (r"90^\circ", "45"), ("", "5"), (r"\text{no solution}", "5"), ("2x", "x^2"),
    ("10", "1024"),
    # math-verify's own limits, kept as the reference scores them: a percent sign leaves the answer
    # unparsed, and a repeating decimal is not read as its fraction
    ("25\\%", "25"), ("25\\%", r"\frac{1}{4}"), (r"0.\overline{3}", r"\frac{1}{3}"),
]
TABLE = [(answer, reference, True) for answer, reference in EQUIVALENT] + \
        [(answer, reference, False) for answer, reference in NOT_EQUIVALENT]


@pytest.fixture(scope="module")
def checker():
    with AnswerChecker(check_seconds=20) as answer_checker:
        yield answer_checker


def test_the_table_is_large_and_varied():
    assert len(TABLE) >= 60
    assert len(NOT_EQUIVALENT) >= 20


@pytest.mark.parametrize(("answer", "reference", "expected"), TABLE, ids=[f"{a}|{r}" for a, r, _ in TABLE])
def test_math_verify_equivalence(checker, answer, reference, expected):
    assert checker.math_verify(answer, reference)["equivalent"] is expected


def test_a_hanging_check_is_a_timeout_and_the_next_check_works():
    with AnswerChecker(check_seconds=2) as checker:
        checker.math_verify("1", "1")  # started and warm
        started = time.monotonic()
        with pytest.raises(CheckerTimeout):
            checker.math_verify(r"9^{9^{9^{9}}}", "1")  # sympy computes the tower in C: no signal stops it
        assert time.monotonic() - started < 10
        assert checker.math_verify("2", "2")["equivalent"] is True


def test_minerva_equality_is_sympy_equality_after_normalising(checker):
    assert checker.minerva_equal("0.5", r"\frac{1}{2}") is True
    assert checker.minerva_equal(r"\frac{2}{3}", r"\frac{2}{3}") is True
    assert checker.minerva_equal("3", "4") is False
    assert checker.minerva_equal("(1,2)", "(1,2)") is True  # identical strings sympy cannot parse
    assert checker.minerva_equal("[invalidanswer]", "5") is False


def test_checks_work_from_a_thread(checker):
    import threading

    results = []
    thread = threading.Thread(target=lambda: results.append(checker.math_verify("0.25", r"\frac14")["equivalent"]))
    thread.start()
    thread.join(30)
    assert results == [True]


def test_a_missing_math_verify_is_one_line_with_the_install_command(tmp_path, monkeypatch):
    """math-verify is installed here, so a module of that name that fails to import stands in for
    its absence (a test double: the real package cannot be made missing in this environment)."""
    shadow = tmp_path / "math_verify"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'math_verify'\")\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(CheckerUnavailable) as error:
        AnswerChecker().start()
    assert str(error.value) == ("math-hard cannot check answers (No module named 'math_verify'): "
                                "pip install math-verify 'antlr4-python3-runtime==4.11.0' (pytest-mlxbench's own dependencies)")
