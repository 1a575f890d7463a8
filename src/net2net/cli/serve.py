"""``net2net serve``: the web app over the installed zoo translators.

Binds to 127.0.0.1 by default (this machine only); pass ``--host 0.0.0.0`` to share it
on a network you trust. Needs Gradio (``pip install 'gradio>=5'``).
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run_serve"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the web app: text to image, edit, translate, explore a classifier",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--max-queue", type=int, default=64, help="requests that may wait in the queue (default: 64)")
    p.add_argument("--temp-max-mb", type=float, default=256,
                   help="uploads and outputs kept in the temporary folder, in MiB; the oldest go first (default: 256)")
    p.add_argument("--temp-max-age", type=float, default=30, metavar="MINUTES",
                   help="uploads and outputs older than this are deleted (default: 30)")
    p.add_argument("--translator", action="append", default=[], metavar="DIR",
                   help="a translator folder of yours (e.g. runs/my-tiles/translator), shown in the tab "
                        "'Your translators'; repeatable")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    if args.max_queue < 1:
        raise ValueError(f"--max-queue must be >= 1, got {args.max_queue}")
    if not 0 <= args.temp_max_mb <= 1 << 20:
        raise ValueError(f"--temp-max-mb must be between 0 and 1048576, got {args.temp_max_mb}")
    if not 0 < args.temp_max_age <= 7 * 24 * 60:
        raise ValueError(f"--temp-max-age must be between 0 and 10080 minutes (a week), got {args.temp_max_age}")
    from net2net.app.handlers import check_own

    check_own(args.translator)  # before Gradio loads: a typo is a one-line error at once
    try:
        from net2net.app.server import serve
    except ImportError as e:
        raise ValueError(f"the web app needs Gradio: pip install 'gradio>=5' ({e})") from None
    serve(args.host, args.port, device=args.device, max_queue=args.max_queue,
          temp_max_bytes=int(args.temp_max_mb * 1024 * 1024), temp_max_age_s=args.temp_max_age * 60,
          own=args.translator)
    return 0
