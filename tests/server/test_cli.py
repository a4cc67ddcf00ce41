"""The model-runtime command: profile check, providers list, and serve refusing a broken profile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import ROOT, GatewayProcess


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env)


def test_profile_check_ok() -> None:
    result = run("profile", "check", "profiles/default.yaml", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "provider openai (openai): 25 models + any model name, not configured (set OPENAI_API_KEY)" in (
        result.stdout)


def test_default_profile_is_found_from_any_directory(tmp_path: Path) -> None:
    result = run("profile", "check", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{ROOT / 'profiles' / 'default.yaml'}: ok")
    assert "route chat (llm) -> openai/gpt-4o-mini" in result.stdout


def test_profile_check_online_validates_each_instance(tmp_path: Path, upstream: FakeOpenAI) -> None:
    path = tmp_path / "online.yaml"
    path.write_text(f"""
providers:
  - {{name: good, provider: openai, credentials: {{api_key: {UPSTREAM_KEY}, base_url: "{upstream.base_url}"}}}}
  - {{name: wrong, provider: openai_compatible,
     credentials: {{api_key: sk-nope-0000, base_url: "{upstream.base_url}"}}}}
  - {{name: idle, provider: openai, credentials: {{api_key: ""}}}}
""")
    result = run("profile", "check", "--online", str(path))
    assert result.returncode == 1, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.split("online validation:")[1].strip().splitlines()}
    assert lines["good"].endswith("ok") and lines["idle"].endswith("not configured")
    assert "FAILED: provider instance 'wrong' rejected the gateway's credentials" in lines["wrong"]
    assert UPSTREAM_KEY not in result.stdout and "sk-nope-0000" not in result.stdout
    path.write_text(path.read_text().replace("api_key: sk-nope-0000", f"api_key: {UPSTREAM_KEY}"))
    assert run("profile", "check", "--online", str(path)).returncode == 0


def test_profile_check_reports_file_line_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("providers:\n  - provider: openai\n    credentials: {}\n")
    result = run("profile", "check", str(path))
    assert result.returncode == 2
    assert f"{path}:3: providers[0].credentials.api_key: required by provider 'openai'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_broken_profile(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("server:\n  port: eighty\n")
    result = run("serve", "--profile", str(path))
    assert result.returncode == 2
    assert f"{path}:2: server.port: expected int, got str" in result.stderr


def test_providers_list() -> None:
    result = run("providers", "list")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("openai ")
    assert "openai_compatible" in result.stdout


def test_usage_error() -> None:
    assert run("nonsense").returncode == 2


@pytest.mark.parametrize("workers", [2])
def test_default_profile_serves_with_no_environment(workers: int) -> None:
    profile = (ROOT / "profiles" / "default.yaml").read_text()
    with GatewayProcess(profile, workers=workers) as gw:
        ready = httpx.get(f"{gw.url}/health/ready").json()
        assert ready["providers"]["openai"]["reason"] == "set OPENAI_API_KEY"
        response = httpx.post(f"{gw.base_url}/chat/completions",
                              json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 503
        assert "OPENAI_API_KEY" in response.json()["error"]["message"]
        assert "no gateway keys configured" in gw.log()
