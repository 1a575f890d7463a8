"""The arrows between net2net's parts run one way (docs/DESIGN: cli/app -> zoo -> translator -> ...).

Read from the source with ``ast`` (every ``import`` statement, function-level ones
included), not by importing: a lazy import inside a function is an arrow too.
Rules:

- ``flow`` imports nothing of net2net outside ``flow``.
- The core (``flow``, ``baselines``, ``experts``, ``features``, ``translator``, ``probing``,
  ``rerank``, ``data``, ``models``, ``io``) never reaches ``zoo``, ``cli`` or ``app``,
  directly or through any chain of imports (importing ``a.b`` runs ``a/__init__``).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "net2net"

CORE = ["flow", "baselines", "experts", "features", "translator", "rerank", "data", "models", "io", "probing"]
ABOVE = ("net2net.zoo", "net2net.cli", "net2net.app")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def resolve(name: str) -> str | None:
    """The module file that importing ``name`` (or ``from name import x``) runs, if it is net2net's."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@cache
def direct_imports(name: str) -> frozenset[str]:
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # ``from pkg import mod`` imports the submodule pkg.mod when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for t in targets:
            if t == "net2net" or t.startswith("net2net."):
                hit = resolve(t)
                if hit:
                    # the top package's __init__ (the public API) is checked on its own below
                    out.update([*parents(hit)[1:], hit] if hit != "net2net" else [hit])
    out.discard(name)
    return frozenset(out)


def chain_to(start: str, bad: tuple[str, ...]) -> list[str] | None:
    """The first import chain from ``start`` into a module under ``bad``, or None."""
    seen, stack = {start}, [[start]]
    while stack:
        path = stack.pop()
        for nxt in sorted(direct_imports(path[-1])):
            if nxt == "net2net":  # the top package's __init__ is the public API, checked on its own below
                continue
            if nxt.startswith(bad):
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append([*path, nxt])
    return None


def in_part(part: str) -> list[str]:
    return sorted(m for m in MODULES if m == f"net2net.{part}" or m.startswith(f"net2net.{part}."))


def test_the_parser_sees_lazy_imports() -> None:
    assert "net2net.experts.text" in direct_imports("net2net.experts.registry")  # imported inside a function


def test_flow_imports_nothing_else_of_net2net() -> None:
    for mod in in_part("flow"):
        outside = sorted(m for m in direct_imports(mod) if m != "net2net.flow" and not m.startswith("net2net.flow."))
        assert not outside, f"{mod} imports {outside}"


@pytest.mark.parametrize("part", CORE)
def test_the_core_never_reaches_zoo_cli_or_app(part: str) -> None:
    modules = in_part(part)
    assert modules, f"no modules under net2net.{part}"
    for mod in modules:
        chain = chain_to(mod, ABOVE)
        assert chain is None, " -> ".join(chain)


def test_the_public_api_does_not_load_the_zoo() -> None:
    assert chain_to("net2net", ABOVE) is None
