"""What the sandbox runs for an MBPP problem: "the candidate plus the original asserts", judged.

The judged form: the candidate's code alone in its process; in the judge, the imports the asserts
need, MBPP's setup code, then the asserts, with the entry point (and any other function of the
candidate the asserts call, ``expose``) bound to proxies. The in-process form (for asserts a proxy
cannot serve, e.g. a regex match object they test for truth): the imports, setup, code and asserts
as one program. The imports: MBPP's asserts use modules the reference solution imported
(``math.isclose`` in Mbpp/120, 293, 442, 574; ``sys.getsizeof`` in Mbpp/596) — the test program
supplies them, so no candidate fails for the dataset's omission.
"""

from __future__ import annotations

import ast
import builtins
import sys

from pytest_mlxbench.sandbox.spec import Check


def judge_check(problem) -> Check:
    context = "\n".join(part for part in (supplied_imports(problem), problem.setup) if part)
    return Check(test=problem.test, entry_point=problem.entry_point, context=context, expose=exposed(problem))


def whole_program(problem, code: str) -> str:
    parts = (supplied_imports(problem), problem.setup.strip("\n"), code.strip("\n"), problem.test.strip("\n"))
    return "\n\n".join(part for part in parts if part) + "\n"


def supplied_imports(problem) -> str:
    """``import m`` for each standard-library module the asserts name without importing it."""
    tree = ast.parse(problem.test)
    bound = defined_names(problem.test) | defined_names(problem.setup)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    modules = sorted(name for name in used - bound if name in sys.stdlib_module_names and not hasattr(builtins, name))
    return "\n".join(f"import {name}" for name in modules)


def exposed(problem) -> tuple[str, ...]:
    """Functions other than the entry point the asserts call by name: the candidate's, by proxy."""
    tree = ast.parse(problem.test)
    bound = defined_names(problem.setup) | set(sys.stdlib_module_names) | {problem.entry_point}
    called = [node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    return tuple(dict.fromkeys(name for name in called if name not in bound and not hasattr(builtins, name)))


def defined_names(code: str) -> set[str]:
    """Names a piece of code binds at its top level (functions, classes, imports, assignments)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name))
    return names
