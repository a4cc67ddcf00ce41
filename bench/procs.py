"""Child processes for the harness: free ports, process groups that always get killed, readiness, RSS.

Every child starts in its own session (so its workers share its process group) and is registered in one
``Children`` registry; ``Children.close()`` (run by the harness's ``finally`` and on SIGINT/SIGTERM/SIGHUP) sends
SIGTERM to every group, waits a little, then SIGKILLs what is left. Nothing is left running after a run.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

__all__ = ["Child", "Children", "free_port", "http_status", "pss_mb", "rss_mb", "tree_pids", "wait_http_ok"]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Child:
    """One started process (the leader of its own process group) and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started: float  # time.monotonic() just before the process was spawned

    @property
    def pid(self) -> int:
        """The leader's pid (also its process group id)."""
        return self.process.pid

    def alive(self) -> bool:
        """The leader has not exited."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the process printed."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Children:
    """Every process the harness started; ``close()`` ends them all, whatever happened."""

    def __init__(self) -> None:
        self._children: list[Child] = []
        self._closed = False

    def spawn(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Child:
        """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``."""
        started = time.monotonic()
        with log_path.open("ab") as log:
            process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       env=None if env is None else dict(env), cwd=cwd, start_new_session=True)
        child = Child(name, process, log_path, started)
        self._children.append(child)
        return child

    def stop(self, child: Child, timeout: float = 15.0) -> None:
        """SIGTERM the child's process group, wait, then SIGKILL the group."""
        _signal_group(child.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=timeout)
        _signal_group(child.pid, signal.SIGKILL)  # workers that outlived their leader, or a hung leader
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)
        if child in self._children:
            self._children.remove(child)

    def close(self) -> None:
        """End every child still registered: SIGTERM all groups, give them 10 s together, SIGKILL the rest."""
        if self._closed:
            return
        self._closed = True
        for child in self._children:
            _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self._children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in self._children:
            _signal_group(child.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
        self._children.clear()

    @contextlib.contextmanager
    def guarded(self) -> Iterator[Children]:
        """Close on exit, and turn SIGTERM/SIGHUP into KeyboardInterrupt so that ``finally`` blocks run."""

        def interrupt(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
        # Ctrl-C too, even where the shell started us with SIGINT ignored (a background job).
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            yield self
        finally:
            # A second Ctrl-C while cleaning up must not leave orphans behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                self.close()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def http_status(host: str, port: int, path: str, timeout: float = 1.0) -> int | None:
    """The status of ``GET path``, or None when nothing answers."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def wait_http_ok(child: Child, port: int, path: str, timeout: float) -> float:
    """Poll ``GET path`` every 10 ms until it answers 200; seconds from the child's spawn to that answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}")
        if http_status("127.0.0.1", port, path, timeout=0.5) == 200:
            return time.monotonic() - child.started
        time.sleep(0.01)
    raise RuntimeError(f"{child.name} not ready after {timeout:.0f} s:\n{child.log_tail()}")


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _status_kb(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    """Resident set size of one process (MiB), from /proc/PID/status; 0 when it is gone."""
    return _status_kb(Path(f"/proc/{pid}/status"), "VmRSS:") / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size of one process (MiB): shared pages split between the processes sharing them, so the
    sum over a process tree is its real footprint."""
    return _status_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") / 1024
