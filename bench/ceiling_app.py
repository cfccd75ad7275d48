"""The ceiling of `bench/load.py`: one trivial JSON route on the server stack `labbook serve` runs.

`GET /ping` answers `{"ok": true}` from a FastAPI app under `uvicorn.run` with the options `labbook serve` passes
(host, port, log level from LABBOOK_LOG_LEVEL, default info; uvicorn picks its loop and HTTP parser the same way),
so the figure is the most any route could get from this stack on this machine. Self-contained (FastAPI and uvicorn
only), so it runs beside any checkout of Labbook.

`--raw` instead answers every request with fixed bytes from a bare asyncio protocol, no HTTP framework: a server
much cheaper than the client, against which `bench/load.py` measures its own generator's ceiling.

    python bench/ceiling_app.py --port 8123 [--workers N] [--raw]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

RAW_RESPONSE = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'


def make_app() -> object:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        # A sync route, like Labbook's: it runs in the same threadpool hop.
        return {"ok": True}

    return app


class _RawResponder(asyncio.Protocol):
    """Counts complete request heads in what arrives and answers each with the same bytes (keep-alive)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        heads = self.pending.count(b"\r\n\r\n")
        if heads:
            self.pending = self.pending[self.pending.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(RAW_RESPONSE * heads)


async def serve_raw(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_RawResponder, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (as `--workers` of serve)")
    parser.add_argument("--raw", action="store_true", help="bare asyncio responder, to measure the client")
    args = parser.parse_args()
    if args.raw:
        asyncio.run(serve_raw(args.host, args.port))
        return
    import uvicorn

    log_level = os.environ.get("LABBOOK_LOG_LEVEL", "INFO").lower()
    if args.workers > 1:  # uvicorn needs an import string to start worker processes
        uvicorn.run(
            "ceiling_app:app",
            app_dir=str(Path(__file__).parent),
            host=args.host,
            port=args.port,
            log_level=log_level,
            workers=args.workers,
        )
    else:
        uvicorn.run(make_app(), host=args.host, port=args.port, log_level=log_level)  # type: ignore[arg-type]


def __getattr__(name: str) -> object:
    # `ceiling_app:app` for uvicorn's workers, built on first access so `--raw` never imports FastAPI.
    if name == "app":
        return make_app()
    raise AttributeError(name)


if __name__ == "__main__":
    main()
