"""One search path for experts and translators: ``$NET2NET_ZOO`` first, then the package.

A ``$NET2NET_ZOO`` that names a file, nothing, or a folder with a half-made expert is one
line and exit status 2 (it used to fall back to the shipped expert silently, exit 0).
"""

from __future__ import annotations

import json
import shutil

import pytest

from net2net.cli import main
from net2net.search_path import TRANSLATORS_DIR


def _one_line_error(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("argv", [["zoo", "list"], ["sample", "fmnist-attr", "--class", "bag", "--out", "never"]])
def test_a_bad_net2net_zoo_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, argv) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("NET2NET_ZOO", str(tmp_path / "a-file"))
    _one_line_error(capsys, argv, "is a file, not a folder")
    monkeypatch.setenv("NET2NET_ZOO", str(tmp_path / "missing"))
    _one_line_error(capsys, argv, "missing: no such folder")
    shadow = tmp_path / "shadow"
    (shadow / "fmnist-ae").mkdir(parents=True)
    (shadow / "fmnist-ae" / "config.json").write_text("{}")  # the weights were never copied
    monkeypatch.setenv("NET2NET_ZOO", str(shadow))
    _one_line_error(capsys, argv, "fmnist-ae/ is neither an expert nor a translator (it has config.json; "
                                  "missing model.safetensors)")
    assert not (tmp_path / "never").exists()


def test_zoo_list_and_load_find_translators_in_net2net_zoo(tmp_path, monkeypatch, capsys) -> None:
    import net2net

    shutil.copytree(TRANSLATORS_DIR / "fmnist-attr", tmp_path / "my-attr")
    monkeypatch.setenv("NET2NET_ZOO", str(tmp_path))
    assert main(["zoo", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["translators"]["my-attr"]["installed"] and listed["translators"]["fmnist-attr"]["installed"]
    assert "fmnist-ae" in listed["experts"]  # the package's experts stay on the path
    assert net2net.load("my-attr").query_ref.name == "fmnist-garment"
    monkeypatch.delenv("NET2NET_ZOO")
    with pytest.raises(ValueError, match="no translator 'my-attr'"):
        net2net.load("my-attr")
