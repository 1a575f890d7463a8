"""The expert registry: names, entry points (the packaging convention) and file/module specs."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap

import pytest

from net2net.experts import registry
from net2net.experts.labels import OneHotExpert

FACTORY = textwrap.dedent('''
    from net2net.experts.labels import OneHotExpert

    def make(*, device="cpu", classes=3):
        e = OneHotExpert([f"c{i}" for i in range(classes)], device=device)
        e.name = "from-file"
        return e
''')


@pytest.fixture
def clean_registry(monkeypatch):
    # only the registry's own built-ins: whatever earlier tests loaded (the zoo's provider,
    # test experts) must not leak into a test of how providers load
    builtins = {k: f for k, f in registry.EXPERTS.items() if getattr(f, "__module__", None) == registry.__name__}
    monkeypatch.setattr(registry, "EXPERTS", builtins)
    monkeypatch.setattr(registry, "_providers_loaded", False)
    return registry


def fake_entry_points(monkeypatch, eps: list[importlib.metadata.EntryPoint]) -> None:
    def entry_points(*, group: str):
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_a_file_spec_and_a_module_spec(tmp_path, monkeypatch) -> None:
    (tmp_path / "my_experts.py").write_text(FACTORY)
    e = registry.get_expert(f"{tmp_path / 'my_experts.py'}:make", classes=4)
    assert e.name == "from-file" and e.dim == 4
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_experts", None)
    assert registry.get_expert("my_experts:make").dim == 3
    with pytest.raises(ValueError, match=r"takes no option\(s\) \['colour'\]; it takes classes"):
        registry.get_expert("my_experts:make", colour="red")
    with pytest.raises(ValueError, match="no such file"):
        registry.get_expert(f"{tmp_path / 'nope.py'}:make")
    with pytest.raises(ValueError, match="has no callable 'nothing'"):
        registry.get_expert("my_experts:nothing")
    with pytest.raises(ValueError, match="no module 'no_such_pkg'"):
        registry.get_expert("no_such_pkg.x:make")


def test_a_single_expert_entry_point_is_loaded_when_asked_for(tmp_path, monkeypatch, clean_registry) -> None:
    (tmp_path / "plugin_pkg.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("plugin_pkg", None)
    fake_entry_points(monkeypatch, [
        importlib.metadata.EntryPoint("my-onehot", "plugin_pkg:make", registry.ENTRY_POINT_GROUP),
    ])
    assert "my-onehot" in registry.available_experts()
    assert "plugin_pkg" not in sys.modules  # listed, not imported
    assert registry.get_expert("my-onehot").name == "from-file"
    assert "my-onehot" in registry.EXPERTS


def test_providers_register_several_and_the_zoo_is_a_builtin_default(tmp_path, monkeypatch, clean_registry) -> None:
    (tmp_path / "provider_pkg.py").write_text(textwrap.dedent('''
        from net2net.experts.labels import OneHotExpert

        def register(add):
            add("prov-a", lambda *, device="cpu": OneHotExpert(device=device))
            add("prov-b", lambda *, device="cpu": OneHotExpert(device=device))
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    fake_entry_points(monkeypatch, [
        importlib.metadata.EntryPoint("mine", "provider_pkg:register", registry.PROVIDER_GROUP),
    ])
    assert isinstance(registry.get_expert("prov-b"), OneHotExpert)
    names = registry.available_experts()
    # the metadata above lacks net2net's own provider: the registry adds it itself
    assert {"prov-a", "prov-b", "fmnist-ae", "fmnist-gan-dequant"} <= set(names)


def test_installed_metadata_wins_over_the_builtin_default(monkeypatch, clean_registry) -> None:
    calls = []
    monkeypatch.setitem(sys.modules, "fake_zoo", type(sys)("fake_zoo"))
    sys.modules["fake_zoo"].register = lambda add: calls.append("fake") or add("fake-zoo-expert", OneHotExpert)
    fake_entry_points(monkeypatch, [
        importlib.metadata.EntryPoint("net2net-zoo", "fake_zoo:register", registry.PROVIDER_GROUP),
    ])
    names = registry.available_experts()
    assert calls == ["fake"] and "fake-zoo-expert" in names and "fmnist-ae" not in names


def test_unknown_name_says_how_to_plug_in(clean_registry) -> None:
    with pytest.raises(ValueError, match=r"no expert named 'my-resnet'; choose one of .*fmnist-ae.*path/to/file.py:factory"):
        registry.get_expert("my-resnet")


def test_cli_extract_takes_a_file_spec(tmp_path, capsys) -> None:
    from net2net.cli import main

    (tmp_path / "e.py").write_text(FACTORY.replace("classes=3", "classes=10"))
    rc = main(["extract", "--expert", f"{tmp_path / 'e.py'}:make", "--transform", "labels", "--split", "test",
               "--root", str(tmp_path / "store")])
    out = capsys.readouterr()
    assert rc == 0, out.err
