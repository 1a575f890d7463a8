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
    p.add_argument("--max-queue", type=int, default=32, help="requests that may wait in the queue (default: 32)")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    if args.max_queue < 1:
        raise ValueError(f"--max-queue must be >= 1, got {args.max_queue}")
    try:
        from net2net.app.server import serve
    except ImportError as e:
        raise ValueError(f"the web app needs Gradio: pip install 'gradio>=5' ({e})") from None
    serve(args.host, args.port, device=args.device, max_queue=args.max_queue)
    return 0
