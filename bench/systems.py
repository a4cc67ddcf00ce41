"""The systems under test, each pointed at the fake upstream: direct, nginx, LiteLLM proxy, Model Runtime.

A ``System`` knows how to write its configuration into a work directory, the command that starts it, the path
that says it is ready, and how a request body names the upstream's models through it. ``start()`` spawns it
through the harness's ``Children`` registry and returns the seconds from spawn to the first 200 on that path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from procs import Child, Children, free_port, pss_mb, rss_mb, tree_pids, wait_http_ok

__all__ = ["API_KEY", "ROOT", "LiteLLM", "MemorySample", "ModelRuntime", "Nginx", "System", "Upstream"]

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench-key"  # the gateways' client key (the fake upstream ignores keys)
LITELLM_VENV = ROOT / "bench" / ".litellm-venv"


@dataclass
class MemorySample:
    """Memory of one system's process tree at one moment."""

    processes: int
    max_rss_mb: float  # the largest process of the tree: a worker, where there are workers
    total_pss_mb: float  # the tree's real footprint, shared pages counted once


@dataclass
class System:
    """One system under test: start, address, memory."""

    name: str
    workers: int
    workdir: Path
    port: int = field(default_factory=free_port)
    child: Child | None = None
    ready_path: str = "/"

    def argv(self) -> Sequence[str]:
        """The command that starts it (after ``configure``)."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """Its environment."""
        return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MODEL_RUNTIME_", "LITELLM_"))}

    def configure(self) -> None:
        """Write configuration files into ``workdir``."""

    def model(self, upstream_model: str) -> str:
        """The ``model`` a client sends to reach ``upstream_model`` of the fake upstream."""
        return upstream_model

    def start(self, children: Children, timeout: float = 120.0) -> float:
        """Spawn and wait for readiness; seconds from spawn to the first 200."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.configure()
        self.child = children.spawn(self.name, self.argv(), self.workdir / f"{self.name}.log", env=self.env(),
                                    cwd=self.workdir)
        return wait_http_ok(self.child, self.port, self.ready_path, timeout)

    def stop(self, children: Children) -> None:
        """Stop it (its whole process group)."""
        if self.child is not None:
            children.stop(self.child)
            self.child = None

    def memory(self) -> MemorySample:
        """RSS and PSS of its process tree, from /proc."""
        if self.child is None:
            return MemorySample(0, 0.0, 0.0)
        pids = tree_pids(self.child.pid)
        return MemorySample(len(pids), max(rss_mb(p) for p in pids), sum(pss_mb(p) for p in pids))


@dataclass
class Upstream(System):
    """The fake upstream; as a system under test it is "direct", the floor."""

    delay_ms: float = 50.0
    chunk_gap_ms: float = 2.0

    def argv(self) -> Sequence[str]:
        return [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "bench" / "upstream.py"),
                "--port", str(self.port), "--delay-ms", str(self.delay_ms), "--chunk-gap-ms", str(self.chunk_gap_ms)]


@dataclass
class Nginx(System):
    """nginx ``proxy_pass`` with upstream keep-alive, as an unprivileged process with its own prefix."""

    upstream_port: int = 0
    ready_path: str = "/nginx-ready"

    def configure(self) -> None:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / sub).mkdir(exist_ok=True)
        (self.workdir / "nginx.conf").write_text(f"""
worker_processes {self.workers};
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {self.workdir}/body;
    proxy_temp_path {self.workdir}/proxy;
    fastcgi_temp_path {self.workdir}/fastcgi;
    uwsgi_temp_path {self.workdir}/uwsgi;
    scgi_temp_path {self.workdir}/scgi;
    keepalive_requests 1000000;
    upstream fake {{ server 127.0.0.1:{self.upstream_port}; keepalive 256; keepalive_requests 1000000; }}
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
        location = /nginx-ready {{ return 200 "ready"; }}
        location / {{
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;  # stream chunks as they come, like the gateways
        }}
    }}
}}
""")
        if os.geteuid() == 0:  # it runs as nobody: let it write its logs and temp files
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, 65534, 65534)

    def argv(self) -> Sequence[str]:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        command = [nginx, "-p", f"{self.workdir}/", "-e", f"{self.workdir}/error.log",
                   "-c", f"{self.workdir}/nginx.conf", "-g", "daemon off;"]
        if os.geteuid() == 0:
            return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        return command


@dataclass
class LiteLLM(System):
    """LiteLLM proxy from its own venv, no database, the same worker count."""

    upstream_port: int = 0
    ready_path: str = "/health/readiness"

    def configure(self) -> None:
        base = f"http://127.0.0.1:{self.upstream_port}/v1"
        models = "\n".join(
            f"  - model_name: {name}\n"
            f"    litellm_params: {{model: openai/{name}, api_base: \"{base}\", api_key: sk-upstream}}"
            for name in ("bench-model", "slow-model"))
        (self.workdir / "litellm.yaml").write_text(
            f"model_list:\n{models}\ngeneral_settings: {{master_key: {API_KEY}}}\n")

    def env(self) -> dict[str, str]:
        # The model cost map is fetched from the network at import unless told to use the bundled copy.
        return {**super().env(), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}

    def argv(self) -> Sequence[str]:
        return [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(self.workdir / "litellm.yaml"),
                "--host", "127.0.0.1", "--port", str(self.port), "--num_workers", str(self.workers)]


@dataclass
class ModelRuntime(System):
    """``model-runtime serve`` with a generated profile: one openai_compatible instance named ``bench``."""

    upstream_port: int = 0
    ready_path: str = "/health/ready"

    def configure(self) -> None:
        (self.workdir / "profile.yaml").write_text(
            f'server: {{api_keys: ["{API_KEY}"]}}\n'
            "providers:\n"
            "  - name: bench\n"
            "    provider: openai_compatible\n"
            f'    credentials: {{base_url: "http://127.0.0.1:{self.upstream_port}/v1", api_key: sk-upstream}}\n')

    def model(self, upstream_model: str) -> str:
        return f"bench/{upstream_model}"

    def argv(self) -> Sequence[str]:
        return [str(ROOT / ".venv" / "bin" / "python"), "-m", "server", "serve",
                "--profile", str(self.workdir / "profile.yaml"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]

    def env(self) -> dict[str, str]:
        # This checkout's code, whichever checkout the virtual environment was installed from (git worktrees).
        return {**super().env(), "PYTHONPATH": str(ROOT)}
