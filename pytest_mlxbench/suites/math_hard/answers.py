"""Final answers in MATH replies: extraction, and lm-eval's ``minerva_math`` normalisation (pure).

``extract_answer`` takes the model's final answer for math-verify: whichever comes last in the
reply of the last ``\\boxed{...}`` / ``\\fbox{...}`` (braces matched, so nested braces stay whole)
and the last "final answer is X" statement (X up to "I hope it is correct", the end of the line or
final periods; ``$`` delimiters and a ``\\boxed{}`` around X removed).

The second metric is lm-eval's ``minerva_math`` exact match (lm-eval 0.4.13): the text between
``Final Answer: The final answer is`` and ``. I hope it is correct.`` (``[invalidanswer]`` when
absent), normalised by ``minerva_normalise`` (appendix D of Lewkowycz et al., 2022, with
lm-eval's fixes: unit words removed only as whole words and never inside a LaTeX command,
indexed roots kept, commas removed only as thousands separators), then compared with the
normalised reference (the last boxed answer of the solution) by ``minerva_equal``: identical
strings, or a sympy difference of zero (that part runs in the checker process, see
``equivalence``).
"""

from __future__ import annotations

import re

BOX_COMMANDS = ("\\boxed", "\\fbox")
STATEMENT = re.compile(r"final answer is[:\s]*(.+?)(?:\.?\s*I hope it is correct|\.?\s*$)", re.IGNORECASE | re.MULTILINE)
MINERVA_STATEMENT = re.compile(r"Final Answer: The final answer is(.*?). I hope it is correct.")
MINERVA_END = "I hope it is correct."
MINERVA_INVALID = "[invalidanswer]"

# Appendix D of Lewkowycz et al. (2022), as lm-eval applies it: replacements in order, then
# expressions removed (alphabetic ones are unit words).
MINERVA_REPLACEMENTS = (
    ("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), ("\\ ", ""), (" ", ""), ("mbox", "text"),
    (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"),
)
MINERVA_REMOVED = (
    "square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "\\ldots",
    "sue", "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters",
    "meals", "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
    "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", "\\mathrm{th}", "^\\circ", "^{\\circ}", "\\;",
    ",\\!", "{,}", '"', "\\dots",
)
LATEX_COMMAND = re.compile(r"(\\[a-zA-Z]+)")
UNWRAPPED = tuple(re.compile(pattern) for pattern in (
    r"(\\text\{)(.*?)(\})", r"(\\textbf\{)(.*?)(\})", r"(\\overline\{)(.*?)(\})", r"(\\boxed\{)(.*)(\})"))
THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+")


def _box_start(text: str) -> tuple[int, str] | None:
    """Where the last box command starts, and which; lm-eval looks for ``\\fbox`` only without ``\\boxed``."""
    for command in BOX_COMMANDS:
        start = text.rfind(command)
        if start >= 0:
            return start, command
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) with its braces matched; when
    the reply has ``\\boxed 5`` (no braces), the text after the last such one up to a ``$``, as
    lm-eval reads it. None when there is none."""
    if "\\boxed " in text:  # lm-eval's rule: the spaced form wins wherever it is
        return text.split("\\boxed ")[-1].split("$")[0]
    found = _box_start(text)
    if found is None:
        return None
    start, command = found
    rest = text[start + len(command):]
    if not rest.startswith("{"):
        return None
    depth = 0
    for offset, char in enumerate(rest):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return rest[1:offset]
    return None


def _statement(text: str) -> tuple[int, str] | None:
    last = None
    for last in STATEMENT.finditer(text):
        pass
    if last is None:
        return None
    answer = re.sub(r"^[\s$]+|[\s$.]+$", "", last.group(1))
    boxed = last_boxed(answer)
    return last.start(), (boxed if boxed is not None else answer)


def extract_answer(reply: str) -> str | None:
    """The reply's final answer: the later of its last box and its last final-answer statement."""
    boxed_at = _box_start(reply)
    boxed = last_boxed(reply) if boxed_at else None
    statement = _statement(reply)
    if statement and (boxed is None or statement[0] > boxed_at[0]):
        return statement[1] or None
    return boxed.strip() if boxed is not None and boxed.strip() else None


def minerva_unnormalised(reply: str) -> str:
    match = MINERVA_STATEMENT.search(reply + MINERVA_END)
    return match.group(1).strip() if match else MINERVA_INVALID


def _remove_units(text: str) -> str:
    """Unit words removed outside LaTeX command names (after the spaces are gone)."""
    for expression in MINERVA_REMOVED:
        if expression.isalpha():
            pieces = LATEX_COMMAND.split(text)
            pieces[::2] = [piece.replace(expression, "") for piece in pieces[::2]]
            text = "".join(pieces)
        else:
            text = text.replace(expression, "")
    return text


def minerva_normalise(answer: str) -> str:
    """lm-eval's ``normalize_final_answer`` for ``minerva_math`` (see the module docstring)."""
    text = answer.split("=")[-1]
    for word in filter(str.isalpha, MINERVA_REMOVED):
        text = re.sub(rf"(?<!\\)\b{word}\b", "", text)
    for before, after in MINERVA_REPLACEMENTS:
        text = text.replace(before, after)
    text = _remove_units(text)
    text = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", text)
    for pattern in UNWRAPPED:
        text = pattern.sub("\\2", text)
    text = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", text)
    text = re.sub(r"(sqrt)(\[[^\]]*\])(\w)", "\\1\\2{\\3}", text)
    text = re.sub(r"(sqrt)(?!\[)([^{])", "sqrt{\\2}", text)
    text = text.replace("$", "")
    if THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    return text


def minerva_reference(solution: str | None, answer: str) -> str:
    """The normalised reference lm-eval compares with: the solution's last boxed answer (or ``answer``)."""
    boxed = last_boxed(solution) if solution else None
    return minerva_normalise(boxed if boxed is not None else answer)
