"""Hot reload: the profile file is watched (and ``SIGHUP`` reloads it) without dropping a request.

A valid new profile builds a new :class:`~core.runtime.Runtime` that takes the next requests at once; the old one
finishes what it serves (streams included) and only then closes its connections. An invalid profile is refused
with its file:line mistakes in the log, and the old one keeps serving. ``server.*`` settings other than
``api_keys`` (address, workers, body limit) take effect at the next restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Coroutine
from typing import Any

from litestar.datastructures import State

from core.profile import ProfileError, load_profile
from core.runtime import Runtime
from core.yamlfile import ConfigError

from .auth import GatewayKeys

__all__ = ["Reloader"]

log = logging.getLogger("model_runtime")
RETIRE_GRACE_S = 600.0
"""How long a replaced runtime waits for its calls before closing anyway (the longest stream we expect)."""


class Reloader:
    """Watches one profile file for the app whose ``state`` holds ``runtime`` and ``gateway_keys``."""

    def __init__(self, state: State, path: str, poll_s: float = 1.0) -> None:
        self.state, self.path, self.poll_s = state, path, poll_s
        self._seen = self._stamp()
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[object]] = set()
        self._retired: list[Runtime] = []

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    async def watch(self) -> None:
        """Reload whenever the file changes (editors that replace the file included)."""
        while True:
            await asyncio.sleep(self.poll_s)
            stamp = self._stamp()
            if stamp is not None and stamp != self._seen:
                try:
                    await self.reload()
                except Exception:  # the watcher must outlive any one bad reload
                    log.exception("profile %s: reload failed; the previous profile keeps serving", self.path)

    def on_sighup(self) -> None:
        """Install ``SIGHUP`` → reload, where the platform allows it."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload()))

    async def reload(self) -> bool:
        """Load the file again; swap it in if it is valid. Returns whether it was."""
        async with self._lock:
            self._seen = self._stamp()  # what this reload reads; the watcher will not read it again
            try:
                loaded = await asyncio.to_thread(load_profile, self.path)
            except (ProfileError, ConfigError) as exc:
                log.error("profile %s not reloaded, the previous one keeps serving:\n%s", self.path, exc)
                return False
            old: Runtime = self.state.runtime
            self.state.runtime = Runtime(loaded, old.state)
            self.state.gateway_keys = GatewayKeys.from_profile(loaded.profile.server)
            before, after = old.loaded.profile.server, loaded.profile.server
            if (before.host, before.port, before.workers, before.max_body_bytes) != (
                    after.host, after.port, after.workers, after.max_body_bytes):
                log.warning("profile %s: server settings other than api_keys take effect at the next restart",
                            self.path)
            log.info("profile %s reloaded: %d provider instances, %d routes", self.path, len(loaded.instances),
                     len(loaded.routes))
            self._retired.append(old)
            self._spawn(old.retire(RETIRE_GRACE_S))
            return True

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def aclose(self) -> None:
        """At shutdown: stop waiting for replaced runtimes and close their connections now."""
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        for runtime in self._retired:
            await runtime.aclose()
        self._retired.clear()
