"""What :func:`net2net.train.fit.fit` shows while it trains: step, loss, learning rate
and ETA as a bar on a terminal or as log lines elsewhere, and a warning (once) when the
validation NLL keeps rising."""

from __future__ import annotations

import logging
import math
import sys
import time

from tqdm.auto import tqdm

__all__ = ["LOG_LINES", "RISING_EVALS", "OverfittingWarning", "Progress", "rising"]

log = logging.getLogger("net2net.train.fit")  # the trainer's logger: one name to configure


class OverfittingWarning(UserWarning):
    """The validation NLL has risen for :data:`RISING_EVALS` evaluations in a row."""


#: evaluations in a row with a rising validation NLL before :class:`OverfittingWarning`.
RISING_EVALS = 3
#: about this many log lines per run when stderr is not a terminal.
LOG_LINES = 20


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Step, loss, learning rate and ETA: a tqdm bar when stderr is a terminal (or
    ``progress=True``), else one ``logging`` line every ``every`` steps (``progress=None``
    off a terminal: CI logs, ``nohup``); ``progress=False`` is silent."""

    def __init__(self, kind: str, steps: int, start: int, progress: bool | None, main: bool, log_every: int) -> None:
        tty = sys.stderr.isatty()
        self.bar_on = main and (progress is True or (progress is None and tty))
        self.lines_on = main and progress is None and not tty
        self.kind, self.steps, self.start = kind, steps, start
        self.every = log_every * max(1, math.ceil((steps - start) / (LOG_LINES * log_every)))
        self.t0 = time.perf_counter()
        self.val: float | None = None
        self.bar = tqdm(total=steps, initial=start, desc=f"fit {kind}", unit="step", disable=not self.bar_on,
                        dynamic_ncols=True)

    def logged(self, done: int, loss: float, lr: float) -> None:
        """Called at each log step with the mean training loss since the last one."""
        post = {"nll": f"{loss:.3f}", "lr": f"{lr:.1e}"}
        if self.val is not None:
            post["val"] = f"{self.val:.3f}"
        self.bar.set_postfix(post, refresh=False)
        if self.lines_on and (done % self.every == 0 or done == self.steps):
            elapsed = time.perf_counter() - self.t0
            eta = elapsed / max(1, done - self.start) * (self.steps - done)
            val = f"  val {self.val:.4f}" if self.val is not None else ""
            log.info("fit %s: step %d/%d  loss %.4f nats/dim  lr %.2e%s  elapsed %s  ETA %s", self.kind, done,
                     self.steps, loss, lr, val, _clock(elapsed), _clock(eta))

    def close(self) -> None:
        self.bar.close()


def rising(values: list[float], k: int = RISING_EVALS) -> bool:
    return len(values) > k and all(values[-i] > values[-i - 1] for i in range(1, k + 1))
