"""A real ``redis-server`` on a free port for tests, installed from the Debian package when missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

from tests.gateway import free_port

__all__ = ["RedisServer", "ensure_redis_server"]


def ensure_redis_server() -> str:
    """The path of ``redis-server``, installing Debian's package first if it is missing (CI runs as root on a
    clean machine); raise with what to do otherwise."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"]
        if subprocess.run(install, check=False, **quiet).returncode != 0:  # type: ignore[call-overload]
            subprocess.run(["apt-get", "update"], check=True, **quiet)  # type: ignore[call-overload]
            subprocess.run(install, check=True, **quiet)  # type: ignore[call-overload]
        found = shutil.which("redis-server")
        if found:
            return found
    raise RuntimeError("redis-server is needed by these tests: apt-get install redis-server (as root)")


class RedisServer:
    """``redis-server`` without persistence, on ``127.0.0.1:<port>``; :meth:`kill` stops it dead."""

    def __init__(self) -> None:
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="mr-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start and wait until it accepts connections."""
        self._process = subprocess.Popen(
            [ensure_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._dir.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: Redis vanishes mid-conversation, as in a crash."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.kill()
        self._dir.cleanup()
