"""Run the real gateway (``python -m server serve``) as a subprocess on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["GatewayProcess", "eventually", "free_port"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether ``check()`` comes true within ``timeout`` seconds (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


class GatewayProcess:
    """The gateway serving ``profile`` (YAML text) with ``env`` added to a clean environment; ``plain_uvicorn``:
    the app under ``uvicorn``'s own command (ASGI all the way) instead of ``python -m server serve``."""

    def __init__(self, profile: str, env: dict[str, str] | None = None, workers: int = 1,
                 plain_uvicorn: bool = False) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mr-gateway-")
        self.profile_path = Path(self._dir.name) / "profile.yaml"
        self.profile_path.write_text(profile)
        self.log_path = Path(self._dir.name) / "gateway.log"
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MODEL_RUNTIME_"))}
        self.env.update(env or {})
        self.workers = workers
        self.plain_uvicorn = plain_uvicorn
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL clients use."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        """Start and wait until ``/health/ready`` answers 200."""
        command = ["-m", "server", "serve", "--profile", str(self.profile_path), "--host", "127.0.0.1", "--port",
                   str(self.port), "--workers", str(self.workers)]
        env = self.env
        if self.plain_uvicorn:  # the app as any ASGI server runs it: uvicorn's own command and protocol
            command = ["-m", "uvicorn", "server.asgi:app_from_env", "--factory", "--port", str(self.port)]
            env = {**env, "MODEL_RUNTIME_PROFILE": str(self.profile_path)}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log,
                                             stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self._process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway not ready after {timeout}s:\n{self.log()}")

    @property
    def pid(self) -> int:
        """The gateway's process id (the supervisor's, when there are several workers)."""
        assert self._process is not None, "not started"
        return self._process.pid

    def log(self) -> str:
        """Everything the gateway printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum: int) -> None:
        """Send a signal to the gateway process."""
        if self._process is not None:
            self._process.send_signal(signum)

    def terminate(self) -> None:
        """Send SIGTERM and return at once (the gateway drains in-flight requests, then exits)."""
        self.signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        """The exit status once the process ended."""
        return self._process.wait(timeout=timeout) if self._process is not None else None

    def stop(self) -> None:
        """SIGTERM, then wait (kill if it hangs)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stop and remove the temporary files."""
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> GatewayProcess:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
