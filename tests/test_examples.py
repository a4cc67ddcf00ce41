"""The README's examples (examples/) run against a live gateway and print real answers."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import GATEWAY_KEY
from tests.gateway import ROOT, GatewayProcess


def run_example(gateway: GatewayProcess, *command: str, env: dict[str, str] | None = None) -> str:
    """The example's standard output; ``env`` replaces the model choices made here."""
    env = {"PATH": "/usr/bin:/bin", "MODEL_RUNTIME_URL": gateway.base_url, "MODEL_RUNTIME_API_KEY": GATEWAY_KEY,
           **(env or {"MODEL": "up/gpt-4o-mini", "EMBEDDING_MODEL": "embed"})}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_python_example(gateway: GatewayProcess) -> None:
    assert run_example(gateway, sys.executable, "examples/chat.py").splitlines() == [
        "echo: Say hello", "echo: Count to five", "echo: Say hello again", "2 vectors of 8 dimensions"]


def test_curl_example(gateway: GatewayProcess) -> None:
    reply = json.loads(run_example(gateway, "sh", "examples/chat.sh"))
    assert reply["choices"][0]["message"]["content"] == "echo: Say hello"
