"""``python -m bench.slow_proxy --listen PORT --target PORT --delay-ms N``: a TCP proxy
on 127.0.0.1 that holds every chunk a client sends for N ms before passing it on (in
order), so each storage request through it takes at least N ms longer: Azurite as a
slow storage account. Answers flow back undelayed. Bench only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while chunk := await reader.read(65536):
            if delay:
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(listen: int, target: int, delay: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w, delay), _pipe(server_r, client_w, 0.0))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, action="append", required=True)
    parser.add_argument("--target", type=int, action="append", required=True)
    parser.add_argument("--delay-ms", type=float, default=200.0)
    args = parser.parse_args()

    async def run() -> None:
        delay = args.delay_ms / 1000
        await asyncio.gather(
            *(serve(a, b, delay) for a, b in zip(args.listen, args.target, strict=True))
        )

    asyncio.run(run())


if __name__ == "__main__":
    main()
