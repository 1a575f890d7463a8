"""The ``net2net`` command: a thin layer over the public API.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``; :data:`COMMANDS` lists them explicitly. Errors a user can
cause (``ValueError``, missing files, ...) print one line and exit with status 2;
``--debug`` shows the traceback instead. Flags every command shares (``--threads``,
``--device``, ``--seed`` and the output folders) are checked here, before the command
loads anything (:mod:`net2net.preflight`).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

__all__ = ["main", "build_parser", "COMMANDS"]

#: sub-command modules, in the order ``net2net --help`` lists them.
COMMANDS: tuple[str, ...] = ("train", "expert", "extract", "data", "zoo", "apps", "probe", "eval", "demo", "serve",
                             "convert")

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, OSError)


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit with status 2 and one line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def describe(e: BaseException) -> str:
    """One line for a user error. An ``OSError`` reads as what happened to which file
    (``no space left on device while writing X``), not as ``[Errno 28] ...``."""
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return f"no space left on device while writing {e.filename or 'a file'}"
    if isinstance(e, OSError) and e.strerror:
        what = e.strerror[0].lower() + e.strerror[1:]
        return f"{e.filename}: {what}" if e.filename else what
    return " ".join(str(e).split()) or type(e).__name__


def build_parser() -> argparse.ArgumentParser:
    from net2net import __version__

    parser = Parser(prog="net2net", description="Network-to-network translation with conditional INNs.")
    parser.add_argument("--version", action="version", version=f"net2net {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: torch's choice, one per core). On a machine "
                             "other jobs share, 1 can be many times faster than oversubscribed cores")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"net2net.cli.{name}").register(sub)
    return parser


#: argparse destination -> (the flag, whether it names a file: its folder is checked).
OUTPUTS: dict[str, tuple[str, bool]] = {"out": ("--out", False), "plots": ("--plots", False), "root": ("--root", False),
                                        "json": ("--json", True), "output": ("OUTPUT", True)}


def _default_store_root() -> str | None:
    try:
        from net2net.features import default_root
    except (ImportError, AttributeError):
        return None
    return str(default_root())


def preflight(args: argparse.Namespace) -> None:
    """Checks the shared flags and that every output folder can be written, before any work."""
    from pathlib import Path

    from net2net import preflight as pf

    if getattr(args, "device", None) is not None:
        pf.check_device(args.device, "--device")
    if getattr(args, "seed", None) is not None:
        pf.check_seed(args.seed, "--seed")
    for dest, (flag, is_file) in OUTPUTS.items():
        value = getattr(args, dest, None)
        if dest == "root" and value is None and args.command == "extract":
            value, flag = _default_store_root(), "the feature store ($NET2NET_CACHE)"
        if isinstance(value, str) and value:
            pf.check_writable(Path(value).parent if is_file else value, flag)


def _one_line_warning(command: str):
    """Warnings (e.g. a rising validation NLL) as ``net2net CMD: warning: ...``, not a source dump."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:  # warnings.showwarning's signature
        print(f"net2net {command}: warning: {' '.join(str(message).split())}", file=file or sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(message)s")
    if args.threads is not None:
        from net2net.preflight import check_threads

        try:
            check_threads(args.threads)
        except ValueError as e:
            parser.error(str(e))
        import torch

        torch.set_num_threads(args.threads)
    try:
        preflight(args)
        with warnings.catch_warnings():  # restored on return: main() may run inside a test or a notebook
            warnings.showwarning = _one_line_warning(args.command)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("net2net: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"net2net {args.command}: error: {describe(e)}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        if args.debug:
            raise
        print(f"net2net {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
