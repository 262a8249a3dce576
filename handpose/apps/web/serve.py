"""`handpose serve`: the web app under waitress, a production WSGI server (not Flask's development server,
which resets the connection on a refused large upload instead of answering it)."""
from __future__ import annotations

import argparse
import threading
from contextlib import contextmanager

from ...errors import HandposeError
from ..options import add_pipeline_arguments, create_pipeline


def add_arguments(p: argparse.ArgumentParser, port: int = 8000) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=port)
    p.add_argument("--workers", type=int, default=4,
                   help="request threads; they share one model, so a request that finds it busy waits its turn")
    add_pipeline_arguments(p)
    p.add_argument("--max-bytes", type=int, default=1_000_000, help="largest accepted upload in bytes (413 above)")
    p.add_argument("--max-pixels", type=int, default=16_000_000,
                   help="largest accepted image in pixels, checked in the header before decoding (400 above)")


def make_server(app, host: str = "127.0.0.1", port: int = 0, workers: int = 4, max_bytes: int = 1_000_000):
    """A waitress server for ``app`` (port 0: a free port, see ``server.effective_port``); ``server.run()`` serves.

    waitress reads a whole body before the app sees it. Bodies up to 4x the limit are read (in memory:
    ``inbuf_overflow`` above the cap, so nothing spills to a temporary file) and refused by the app with a
    JSON 413; longer ones are refused by waitress from their Content-Length. The connection limit bounds
    the memory held by bodies in flight; further connections wait in the listen backlog."""
    from waitress import create_server

    body_cap = 4 * max_bytes + 65_536
    return create_server(
        app, host=host, port=port, threads=workers, ident="handpose",
        max_request_body_size=body_cap, inbuf_overflow=body_cap + 1, outbuf_overflow=16 * 2**20,
        connection_limit=max(16, 8 * workers), channel_timeout=60, clear_untrusted_proxy_headers=True,
    )


def run(args: argparse.Namespace) -> int:
    from .app import create_app

    if args.workers < 1 or args.max_bytes < 1 or args.max_pixels < 1 or args.max_hands < 1:
        raise HandposeError("--workers, --max-bytes, --max-pixels and --max-hands must be positive")
    pipeline = create_pipeline(args)
    app = create_app(pipeline, weights=args.weights, max_bytes=args.max_bytes, max_pixels=args.max_pixels)
    try:
        server = make_server(app, args.host, args.port, args.workers, args.max_bytes)
    except OSError as e:
        raise HandposeError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e})") from None
    shown = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host
    print(f"handpose: serving {app.extensions['handpose']['model']} on http://{shown}:{server.effective_port}/ "
          f"({args.workers} threads, uploads up to {args.max_bytes} bytes); Ctrl+C stops", flush=True)
    server.run()
    return 0


@contextmanager
def serving(app, host: str = "127.0.0.1", port: int = 0, workers: int = 4, max_bytes: int = 1_000_000):
    """Serve ``app`` from a background thread for the duration of a ``with`` block; yields the base URL."""
    from waitress import wasyncore

    server = make_server(app, host, port, workers, max_bytes)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.effective_port}"
    finally:
        # Sockets are closed by the loop's own thread (closing them from here races its select()); an empty
        # map ends run(). Then the worker threads are stopped.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown(timeout=5)
