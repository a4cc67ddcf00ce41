"""What the harness needs installed, installed the way CI installs everything: Debian packages with apt-get,
LiteLLM proxy in its own venv (``bench/.litellm-venv``), matplotlib and py-spy in a bench-only venv
(``bench/.venv-tools``) so that the product's dependencies stay lean. A tool that cannot be had is reported with
the reason, and the run goes on without what needs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from systems import LITELLM_VENV, ROOT

__all__ = ["TOOLS_VENV", "commit", "ensure_apt", "ensure_litellm", "ensure_tools_venv", "machine_facts", "precompile"]

TOOLS_VENV = ROOT / "bench" / ".venv-tools"


def _run(argv: list[str], timeout: float = 900) -> tuple[bool, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stdout + done.stderr)[-2000:]


def ensure_apt(binaries: dict[str, str]) -> dict[str, str]:
    """Install the Debian packages providing the missing ``binary -> package``; the reasons for those still missing."""
    missing = {b: p for b, p in binaries.items() if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()}
    if not missing:
        return {}
    packages = sorted(set(missing.values()))
    print(f"installing Debian packages {' '.join(packages)} ...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env_argv = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive"]
    ok, out = _run([*env_argv, "apt-get", "install", "-y", "-q", *packages])
    if not ok:  # an old package list: update once and retry
        _run([*env_argv, "apt-get", "update", "-q"])
        ok, out = _run([*env_argv, "apt-get", "install", "-y", "-q", *packages])
    return {b: f"apt-get install {p} failed: {out.strip().splitlines()[-1] if out.strip() else '?'}"
            for b, p in missing.items() if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()}


def _venv(path: Path, requirements: list[str], probe: list[str]) -> str | None:
    python = path / "bin" / "python"
    if python.exists() and _run([str(python), "-c", *probe])[0]:
        return None
    print(f"creating {path.relative_to(ROOT)} with {' '.join(requirements)} (once) ...", flush=True)
    ok, out = _run([sys.executable, "-m", "venv", "--clear", str(path)])
    if ok:
        ok, out = _run([str(python), "-m", "pip", "install", "--quiet", *requirements], timeout=1800)
    if not ok:
        shutil.rmtree(path, ignore_errors=True)
        lines = [ln for ln in out.strip().splitlines() if "WARNING" not in ln]
        return f"pip install {' '.join(requirements)} failed: {lines[-1] if lines else '?'}"
    return None


def ensure_litellm() -> str | None:
    """LiteLLM proxy in ``bench/.litellm-venv``; None when usable, else why not."""
    reason = _venv(LITELLM_VENV, ["litellm[proxy]"], ["import litellm.proxy.proxy_server"])
    if reason is None and not (LITELLM_VENV / "bin" / "litellm").exists():
        return "the litellm package installed no 'litellm' command"
    return reason


def ensure_tools_venv() -> str | None:
    """matplotlib (the chart) and py-spy (profiles) in ``bench/.venv-tools``; None when usable, else why not."""
    return _venv(TOOLS_VENV, ["matplotlib", "py-spy"], ["import matplotlib"])


def precompile() -> None:
    """Byte-compile the product, as an installed package would be, so that time-to-ready measures start-up and not
    the compiler (this machine sets PYTHONDONTWRITEBYTECODE, so nothing else writes the .pyc files)."""
    _run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in ("core", "server", "providers"))])


def machine_facts() -> dict[str, str]:
    """Versions and load, for the report."""
    def first_line(argv: list[str]) -> str:
        _ok, out = _run(argv, timeout=30)
        return out.strip().splitlines()[0] if out.strip() else "?"

    litellm = LITELLM_VENV / "bin" / "python"
    return {
        "cpus": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "nginx": first_line(["nginx", "-v"]),
        "wrk": first_line(["wrk", "--version"]).split(" [")[0],
        "litellm": first_line([str(litellm), "-c", "import importlib.metadata as m; print(m.version('litellm'))"])
        if litellm.exists() else "not installed",
    }


def commit() -> str:
    """HEAD, with ``+dirty`` when tracked files have uncommitted changes (others may be editing the tree)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
