"""Every skip in the suite says why in words the CI rule knows (tests/conftest.py): a
skip for something missing must read as missing, so that CI=true turns it into a
failure; a skip for hardware CI lacks must name it. A literal reason that is neither
would skip silently in CI."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# the suite's own rule, read from tests/conftest.py by path ("conftest" alone may name another one)
_spec = importlib.util.spec_from_file_location("_net2net_tests_conftest", TESTS / "conftest.py")
_rule = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rule)
HARDWARE, MISSING = _rule.HARDWARE, _rule.MISSING


def _reasons() -> list[tuple[str, str]]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in ("skip", "skipif", "importorskip"):
                continue
            args = [kw.value for kw in node.keywords if kw.arg in ("reason", "msg")]
            if name == "skip" and node.args:
                args.append(node.args[0])
            for a in args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str):
                    found.append((f"{path.relative_to(TESTS)}:{node.lineno}", a.value))
                elif isinstance(a, ast.JoinedStr):
                    text = "".join(v.value for v in a.values if isinstance(v, ast.Constant))
                    found.append((f"{path.relative_to(TESTS)}:{node.lineno}", text))
    return found


def test_every_literal_skip_reason_matches_the_ci_rule() -> None:
    reasons = _reasons()
    assert len(reasons) >= 10  # the scan finds the suite's skips
    bad = [(where, r) for where, r in reasons if not (MISSING.search(r) or HARDWARE.search(r))]
    assert not bad, f"skip reasons CI would let pass silently: {bad}"
