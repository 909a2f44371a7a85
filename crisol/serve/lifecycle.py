"""The server's life around its requests: pick up a promoted or retrained model while running
(on SIGHUP, and every `interval` seconds when watching), and close the engines on shutdown.

Reloading loads in a worker thread, so requests keep being answered while a new model loads;
the swap is one dict assignment (see Server.reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from crisol.serve.server import Server

log = logging.getLogger("crisol.serve")


def lifespan_for(server: Server, interval: float):
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        loop = asyncio.get_running_loop()
        busy = asyncio.Lock()

        async def reload(reason: str) -> None:
            if busy.locked():
                return
            async with busy:
                changed = await loop.run_in_executor(None, server.reload)
                if changed:
                    log.warning("reloaded %s (%s)", ", ".join(changed), reason)

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # no signals off the main thread
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload("SIGHUP")))

        async def watch() -> None:
            while True:
                await asyncio.sleep(interval)
                await reload("watch")

        watcher = loop.create_task(watch()) if interval > 0 else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
            await loop.run_in_executor(None, server.close)

    return lifespan
