"""A TCP forwarder that lets one request through and loses its answer: an unknown outcome, on demand.

Between a store and a real server (Redis, MariaDB, PostgreSQL). Once armed with
:meth:`ReplyEater.arm`, the next client message that contains ``trigger``
(``b"EVALSHA"`` for a Redis script, ``b"COMMIT"`` for a SQL commit) reaches the
server and runs there; when the server's answer comes back, ``meanwhile`` is
awaited (another client may act on the server then), and the client's
connection is dropped instead of the answer. The client can't tell whether its
request ran.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from tests.support.ports import free_port


class ReplyEater:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        #: Answers swallowed so far.
        self.eaten = 0
        self._trigger: bytes | None = None
        self._meanwhile: Callable[[], Awaitable[None]] | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def arm(self, trigger: bytes, meanwhile: Callable[[], Awaitable[None]] | None = None) -> None:
        """Lose the answer to the next message containing ``trigger`` (case-insensitive)."""
        self._trigger = trigger.upper()
        self._meanwhile = meanwhile

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        triggered = False

        async def upstream() -> None:
            nonlocal triggered
            while data := await reader.read(65536):
                if self._trigger is not None and self._trigger in data.upper():
                    self._trigger = None
                    triggered = True
                up_writer.write(data)
                await up_writer.drain()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if triggered:
                    self.eaten += 1
                    if self._meanwhile is not None:
                        await self._meanwhile()
                    return
                writer.write(data)
                await writer.drain()

        pipes = {asyncio.create_task(upstream()), asyncio.create_task(downstream())}
        self._tasks |= pipes
        with contextlib.suppress(Exception):
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for pipe in pipes:
            pipe.cancel()
        self._tasks -= pipes
        writer.transport.abort()
        up_writer.transport.abort()
