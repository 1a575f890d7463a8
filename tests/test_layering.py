"""The arrows between net2net's parts run one way (DESIGN: cli/app -> zoo -> translator -> ... -> data).

Read from the source with ``ast`` (every ``import`` statement, function-level and
``TYPE_CHECKING`` ones included, and ``importlib.import_module("net2net...")`` /
``__import__`` with a literal name), not by importing: a lazy import is an arrow too.
Rules:

- every module has a rank (:data:`RANKS`, DESIGN's order; the longest matching name
  wins) and imports only modules of its own rank or below;
- ``flow`` imports nothing of net2net outside ``flow``;
- no import circle between any modules, of any length (:data:`ALLOWED_CIRCLES` lists
  the one exception and why). Importing ``a.b`` also runs ``a/__init__``; that implicit
  arrow counts for the ranks but not for circles (a package and its own modules);
- the core never reaches ``zoo``, ``cli`` or ``app`` through any chain of imports.

:func:`violations` checks a source tree; ``test_the_checker_catches_each_injected_violation``
injects nine violations into copies of the tree and requires each one to be reported.
"""

from __future__ import annotations

import ast
import shutil
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: rank -> the modules (and everything under them) at that rank; higher imports lower.
RANKS: dict[int, tuple[str, ...]] = {
    7: ("net2net.cli", "net2net.app", "net2net.__main__"),
    # built on the zoo (docs/layout.md): the applications, the demo, the evaluations
    6: ("net2net.applications", "net2net.demo", "net2net.evaluate"),
    5: ("net2net.zoo",),
    # fitting τ (the zoo's recipes call it); the public API exports it
    4: ("net2net.train", "net2net.probing", "net2net"),
    3: ("net2net.translator", "net2net.rerank", "net2net.testing"),
    # the translator's parts; metrics of experts alone (no zoo) sit here so the zoo's trainer may use them
    2: ("net2net.experts", "net2net.flow", "net2net.features", "net2net.baselines", "net2net.models",
        "net2net.search_path", "net2net.evaluate.zoo_metrics", "net2net.completion"),
    1: ("net2net.data", "net2net.imageio", "net2net.io", "net2net.preflight"),
}

#: circles allowed, each with its reason; every arrow of one must be a ``TYPE_CHECKING`` import.
ALLOWED_CIRCLES: dict[frozenset[str], str] = {
    frozenset({"net2net.rerank", "net2net.translator"}):
        "rerank's type hints name the Translator a scorer is given; translator.py calls rerank at run time",
}

CORE = ["flow", "baselines", "experts", "features", "translator", "rerank", "data", "models", "io", "search_path", "probing"]
ABOVE = ("net2net.zoo", "net2net.cli", "net2net.app")


class Tree:
    """The import arrows of one source tree (``root/net2net/**.py``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules = {self._name(p): p for p in (root / "net2net").rglob("*.py")}

    def _name(self, path: Path) -> str:
        parts = list(path.relative_to(self.root).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def resolve(self, name: str) -> str | None:
        """The module file that importing ``name`` (or ``from name import x``) runs, if it is net2net's."""
        while name and name not in self.modules:
            name = name.rpartition(".")[0]
        return name or None

    @cache  # noqa: B019 - one Tree per source tree, alive for the test session
    def arrows(self, name: str) -> dict[str, bool]:
        """Modules ``name`` imports by name -> whether every such import is under ``if TYPE_CHECKING``."""
        path = self.modules[name]
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out: dict[str, bool] = {}
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node.test)
                       for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                # ``from pkg import mod`` imports the submodule pkg.mod when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in self.modules else base for a in node.names]
            elif isinstance(node, ast.Call) and _dynamic_import(node):
                targets = [node.args[0].value]
            for t in targets:
                if t == "net2net" or t.startswith("net2net."):
                    hit = self.resolve(t)
                    if hit and hit != name:
                        out[hit] = out.get(hit, True) and id(node) in typing_only
        return out

    def runs(self, name: str) -> set[str]:
        """Every module importing ``name``'s arrows runs: the targets and their packages' ``__init__``
        (an ``__init__`` that imports nothing of net2net is left out: running it reaches nothing)."""
        out: set[str] = set()
        for hit in self.arrows(name):
            parts = hit.split(".")
            out.update(p for p in (".".join(parts[:i]) for i in range(2, len(parts))) if self.arrows(p))
            out.add(hit)
        out.discard(name)
        return out

    def circles(self, *, typing: bool = True) -> list[list[str]]:
        """The strongly connected groups (size > 1) of the named arrows: each holds a circle
        (``typing=False``: not counting ``TYPE_CHECKING`` imports)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on: set[str] = set()
        found: list[list[str]] = []

        def visit(v: str) -> None:  # Tarjan's algorithm; the graph is small
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w, typing_only in self.arrows(v).items():
                if typing_only and not typing:
                    continue
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

        for v in sorted(self.modules):
            if v not in index:
                visit(v)
        return found

    def chain_to(self, start: str, bad: tuple[str, ...]) -> list[str] | None:
        """The first import chain from ``start`` into a module under ``bad``, or None."""
        seen, todo = {start}, [[start]]
        while todo:
            path = todo.pop()
            for nxt in sorted(self.runs(path[-1])):
                if nxt == "net2net":  # the top package's __init__ is the public API, checked on its own
                    continue
                if nxt == bad or nxt.startswith(bad):
                    return [*path, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append([*path, nxt])
        return None

    def violations(self) -> list[str]:
        """Every broken rule, one line each (empty: the tree is layered)."""
        out = []
        for mod in sorted(self.modules):
            r = rank(mod)
            for dep in sorted(self.runs(mod)):
                if rank(dep) > r:
                    out.append(f"{mod} (rank {r}) imports {dep} (rank {rank(dep)}), which is above it")
            if mod.startswith("net2net.flow"):
                outside = sorted(m for m in self.runs(mod) if not m.startswith("net2net.flow"))
                if outside:
                    out.append(f"{mod} is in flow, which imports nothing else of net2net, but imports {outside}")
        at_run_time = {frozenset(g) for g in self.circles(typing=False)}
        for group in self.circles():
            key = frozenset(group)
            if key not in ALLOWED_CIRCLES or key in at_run_time:
                out.append(f"import circle among {', '.join(group)}")
        for mod in sorted(m for m in self.modules if any(m == f"net2net.{p}" or m.startswith(f"net2net.{p}.")
                                                         for p in CORE)):
            chain = self.chain_to(mod, ABOVE)
            if chain:
                out.append("the core reaches above the zoo line: " + " -> ".join(chain))
        return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _dynamic_import(node: ast.Call) -> bool:
    """``importlib.import_module("...")``, ``import_module("...")`` or ``__import__("...")`` with a literal name."""
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return (name in ("import_module", "__import__") and bool(node.args) and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str))


def rank(module: str) -> int:
    best, found = -1, 0
    for r, names in RANKS.items():
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > best:
                best, found = len(n), r
    if best < 0:
        raise AssertionError(f"{module} has no rank; add it to RANKS in tests/test_layering.py")
    return found


TREE = Tree(SRC)


def test_the_parser_sees_lazy_typing_and_dynamic_imports(tmp_path) -> None:
    assert "net2net.experts.text" in TREE.arrows("net2net.experts.registry")  # imported inside a function
    assert TREE.arrows("net2net.rerank")["net2net.translator"] is True       # under TYPE_CHECKING only
    (tmp_path / "net2net").mkdir()
    (tmp_path / "net2net" / "__init__.py").write_text("")
    (tmp_path / "net2net" / "zoo.py").write_text("")
    (tmp_path / "net2net" / "a.py").write_text("import importlib\ndef f():\n    importlib.import_module('net2net.zoo')\n")
    assert Tree(tmp_path).arrows("net2net.a") == {"net2net.zoo": False}


def test_every_module_has_a_rank() -> None:
    for mod in TREE.modules:
        rank(mod)


def test_the_source_breaks_no_rule() -> None:
    assert TREE.violations() == []


def test_flow_imports_nothing_else_of_net2net() -> None:
    for mod in (m for m in TREE.modules if m.startswith("net2net.flow")):
        assert all(m.startswith("net2net.flow") for m in TREE.runs(mod)), mod


def test_no_import_circles_but_the_listed_one() -> None:
    assert [set(g) for g in TREE.circles()] == [set(k) for k in ALLOWED_CIRCLES]


@pytest.mark.parametrize("part", CORE)
def test_the_core_never_reaches_zoo_cli_or_app(part: str) -> None:
    modules = [m for m in TREE.modules if m == f"net2net.{part}" or m.startswith(f"net2net.{part}.")]
    assert modules, f"no modules under net2net.{part}"
    for mod in modules:
        chain = TREE.chain_to(mod, ABOVE)
        assert chain is None, " -> ".join(chain)


def test_the_public_api_does_not_load_the_zoo() -> None:
    assert TREE.chain_to("net2net", ABOVE) is None


#: file -> a line added at its end, and a word the report must hold. Each breaks one rule.
INJECTED = {
    "dynamic import of the zoo from the translator": (
        "translator.py", "def _x():\n    import importlib\n    importlib.import_module('net2net.zoo')\n", "net2net.zoo"),
    "zoo -> app": ("zoo/store.py", "def _x():\n    from net2net.app import server\n", "net2net.app.server"),
    "data -> train": ("data/datasets.py", "def _x():\n    from net2net.train import fit\n", "net2net.train.fit"),
    "data -> translator": ("data/domains.py", "def _x():\n    from net2net.translator import load\n", "net2net.translator"),
    "evaluate -> cli": ("evaluate/results.py", "def _x():\n    from net2net.cli import main\n", "net2net.cli"),
    "translator -> train": ("translator.py", "def _x():\n    from net2net.train.fit import fit\n", "net2net.train.fit"),
    "data -> zoo (lazily, through the registry's back door)": (
        "data/shapes.py", "def _x():\n    from net2net.zoo.scoring import shapes_verdict\n", "net2net.zoo.scoring"),
    "a circle made of a TYPE_CHECKING import": (
        "experts/base.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from net2net.features.store import FeatureStore\n", "import circle"),
    "a circle inside one part (the old results <-> results_text)": (
        "evaluate/results_text.py", "def _x():\n    from net2net.evaluate.results import run_results\n", "import circle"),
}


@pytest.mark.parametrize("case", list(INJECTED))
def test_the_checker_catches_each_injected_violation(case: str, tmp_path) -> None:
    file, line, word = INJECTED[case]
    shutil.copytree(SRC / "net2net", tmp_path / "net2net", ignore=shutil.ignore_patterns("*.pyc", "__pycache__",
                                                                                          "weights", "translators"))
    target = tmp_path / "net2net" / file
    target.write_text(target.read_text() + "\n\n" + line)
    report = Tree(tmp_path).violations()
    assert report, f"{case}: not caught"
    assert any(word in r for r in report), f"{case}: reported as {report}"
