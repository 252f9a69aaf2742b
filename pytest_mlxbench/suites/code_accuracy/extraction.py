"""Code-accuracy scoring, pure functions: pull code out of a model reply, build what the
sandbox runs (the candidate's program and the judge's check), and estimate pass@k.

Nothing here runs code; :mod:`pytest_mlxbench.sandbox` does that.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Protocol, Sequence

from pytest_mlxbench.sandbox.spec import Check

_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3"}
_CODE_START = re.compile(r"^(def |async def |class |import |from \S+ import |@)")


class CodeProblem(Protocol):
    prompt: str
    entry_point: str
    test: str


def extract_code(reply: str, prompt: str, entry_point: str) -> str | None:
    """Code that defines ``entry_point``, taken from a model reply; None when there is no code.

    Handles fenced blocks (```python, ```py, bare ```; the one defining ``entry_point`` wins),
    bare code, a reply holding only the indented function body (completed with ``prompt``),
    a reply truncated inside a fence, and ``<think>...</think>`` sections.
    """
    text = _strip_thinking(reply).replace("\r\n", "\n")
    blocks = [body for tag, body in _FENCE.findall(text) if tag.lower() in _PYTHON_TAGS]
    if blocks:
        return _from_blocks(blocks, prompt, entry_point)
    if "```" in text:
        return None  # only fences of other languages (bash, text, ...)
    return _from_bare_text(text, prompt, entry_point)


def build_candidate(problem: CodeProblem, completion_code: str) -> str:
    """What runs in the candidate's process: the prompt's imports and helpers the code lacks,
    then the code. The tests are not in it: they run in the sandbox's judge (``build_check``)."""
    prelude = _missing_prompt_definitions(problem.prompt, completion_code, problem.entry_point)
    return "\n\n".join(part for part in [*prelude, completion_code.rstrip("\n")] if part) + "\n"


def build_check(problem: CodeProblem) -> Check:
    """The judge's side: the prompt as trusted context (its helpers, e.g. HumanEval/32's ``poly``,
    are the dataset's, not the candidate's), the dataset's test, then ``check(candidate)``."""
    return Check(test=f"{problem.test.rstrip()}\n\ncheck(candidate)\n", entry_point=problem.entry_point,
                 context=problem.prompt)


def build_program(problem: CodeProblem, completion_code: str) -> str:
    """The whole program, checks included, for problems whose test a proxy cannot serve (run in
    the candidate's own process): ``build_candidate`` + tests + ``check(entry_point)``."""
    parts = [build_candidate(problem, completion_code).rstrip("\n"), problem.test.rstrip("\n"),
             f"check({problem.entry_point})"]
    return "\n\n".join(part for part in parts if part) + "\n"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), as a stable product."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    remaining = 1.0
    for i in range(n - c + 1, n + 1):
        remaining *= 1.0 - k / i
    return 1.0 - remaining


def mean_pass_at_k(per_problem: Sequence[tuple[int, int]], k: int) -> float | None:
    """Mean pass@k over the problems with at least k samples, given (n, c) per problem."""
    scores = [pass_at_k(n, c, k) for n, c in per_problem if n >= k]
    return sum(scores) / len(scores) if scores else None


def _strip_thinking(reply: str) -> str:
    text = _THINK_BLOCK.sub("", reply)
    closing = list(_THINK_CLOSE.finditer(text))
    if closing:  # opening tag was in the prompt (chat template) or the block is unbalanced
        text = text[closing[-1].end():]
    return text


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.MULTILINE) is not None


def _from_blocks(blocks: list[str], prompt: str, entry_point: str) -> str | None:
    defining = [block for block in blocks if _defines(block, entry_point)]
    if defining:
        chosen = defining[-1].strip("\n") + "\n"  # a later block is usually the revised answer
        helpers = [d for block in blocks if block is not defining[-1] for d in _definitions(block, chosen)]
        return "\n\n".join([*helpers, chosen]) if helpers else chosen
    for block in blocks:
        completed = _as_body(block, prompt)
        if completed is not None:
            return completed
    code = blocks[-1].strip("\n")
    return code + "\n" if code.strip() else None  # runs and fails: a wrong answer, not "no code"


def _definitions(block: str, chosen: str) -> list[str]:
    """Imports and top-level defs of another block that the chosen block relies on but lacks."""
    tree = _parse(block)
    if tree is None:
        return []
    found = []
    for node in tree.body:
        segment = ast.get_source_segment(block, node)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and segment and segment not in chosen:
            found.append(segment)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and segment and not _binds(chosen, node.name):
            if re.search(rf"\b{re.escape(node.name)}\b", chosen):
                found.append(_with_decorators(block, node, segment))
    return found


def _binds(code: str, name: str) -> bool:
    return _defines(code, name) or re.search(rf"^[ \t]*class[ \t]+{re.escape(name)}\b", code, re.MULTILINE) is not None


def _from_bare_text(text: str, prompt: str, entry_point: str) -> str | None:
    if _defines(text, entry_point):
        return _trim_to_code(text)
    for candidate in (text, _from_first_indented_line(text)):
        completed = _as_body(candidate, prompt) if candidate else None
        if completed is not None:
            return completed
    return _trim_to_code(text)


def _from_first_indented_line(text: str) -> str | None:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line[:1] in (" ", "\t") and line.strip()), None)
    return "\n".join(lines[start:]) if start else None


def _as_body(code: str, prompt: str) -> str | None:
    """``prompt`` + ``code`` when ``code`` is the entry point's body (indented or not); else None."""
    name = _last_def_name(prompt)
    body = code.strip("\n")
    if name is None or _defines(body, name):
        return None
    reindented = textwrap.indent(textwrap.dedent(body), "    ")
    # An indented reply is a HumanEval-style completion that may go on with top-level helpers.
    for candidate_body in ((body, reindented) if body[:1] in (" ", "\t") else (reindented,)):
        completed = prompt.rstrip("\n") + "\n" + candidate_body + "\n"
        tree = _parse(completed)
        if tree is not None and _body_has_statements(tree, name):
            return completed
    return None


def _body_has_statements(tree: ast.Module, name: str) -> bool:
    """True when the function got real statements (so prose like "Sure" is not taken as a body)."""
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    if not functions:
        return False
    statements = functions[-1].body
    if statements and isinstance(statements[0], ast.Expr) and isinstance(statements[0].value, ast.Constant):
        statements = statements[1:]  # the prompt's docstring
    return any(not isinstance(node, ast.Expr) or isinstance(node.value, ast.Call) for node in statements)


def _last_def_name(prompt: str) -> str | None:
    names = re.findall(r"^def[ \t]+(\w+)[ \t]*\(", prompt, re.MULTILINE)
    return names[-1] if names else None


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # deep nesting exhausts the parser
        return None


def _trim_to_code(text: str) -> str | None:
    """Drop prose before the first code line and after the last line that keeps it parsing."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None
    end = len(lines)
    while end > start:
        chunk = "\n".join(lines[start:end]).strip("\n")
        error_line = _syntax_error_line(chunk)
        if error_line is None:
            return chunk + "\n"
        # everything from the offending line on is prose: jump there instead of one line at a
        # time, which made long hostile replies quadratic
        end = min(end - 1, start + error_line - 1) if error_line > 1 else end - 1
    return None


def _syntax_error_line(code: str) -> int | None:
    """None when the code parses, else the 1-based line the parser stopped at (0 if unknown)."""
    try:
        ast.parse(code)
    except SyntaxError as error:
        return error.lineno or 0
    except (ValueError, MemoryError, RecursionError):
        return 0
    return None


def _missing_prompt_definitions(prompt: str, code: str, entry_point: str) -> list[str]:
    """Top-level imports and helpers from the prompt that the completion does not provide."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return [line for line in prompt.splitlines() if re.match(r"(import |from \S+ import )", line)]
    wanted = []
    for node in tree.body:
        segment = ast.get_source_segment(prompt, node, padded=True)
        if segment is None:
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if segment.strip() not in code:
                wanted.append(segment)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name != entry_point and not _binds(code, node.name):
                wanted.append(_with_decorators(prompt, node, segment))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):  # e.g. T = TypeVar("T") used in annotations
            if not all(_assigns(code, name) for name in _assigned_names(node)):
                wanted.append(segment)
    return wanted


def _assigned_names(node: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)]


def _assigns(code: str, name: str) -> bool:
    return re.search(rf"^{re.escape(name)}[ \t]*(?::[^=\n]*)?=(?!=)", code, re.MULTILINE) is not None


def _with_decorators(prompt: str, node: ast.AST, segment: str) -> str:
    decorators = getattr(node, "decorator_list", [])
    if not decorators:
        return segment
    lines = prompt.splitlines()
    return "\n".join(lines[decorators[0].lineno - 1 : node.end_lineno])
