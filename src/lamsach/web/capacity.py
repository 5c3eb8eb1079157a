"""How many requests the portal works on at once: never more than it has database connections."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Receive, Scope, Send

# Requests run their database work in worker threads and hold one pooled connection from the
# first query to the end. If more requests than connections are in flight, those holding a
# connection can wait for a worker thread that is itself waiting for a connection: the portal
# hangs. Admitting at most as many requests as there are connections (and worker threads, 40 by
# default in anyio) rules that out; the rest wait their turn here, holding nothing.
WORKER_THREADS = 40


def request_slots(engine: Engine) -> int:
    pool = engine.pool
    if isinstance(pool, QueuePool):
        connections = pool.size() + max(0, pool._max_overflow)
        return max(1, min(WORKER_THREADS - 2, connections - 2))
    return WORKER_THREADS // 2


class ConcurrencyLimitMiddleware:
    def __init__(self, app: ASGIApp, slots: int) -> None:
        self.app = app
        self.slots = slots
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:
            # Made on first use, inside the server's event loop.
            self._semaphore = asyncio.Semaphore(self.slots)
        async with self._semaphore:
            await self.app(scope, receive, send)
