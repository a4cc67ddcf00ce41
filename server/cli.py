"""The ``model-runtime`` command: ``serve``, ``console``, ``profile check``, ``providers list``."""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib.metadata
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from core.errors import ModelRuntimeError
from core.profile import InstanceSpec, LoadedProfile, ProfileError, load_profile
from core.registry import Registry
from core.runtime import Runtime
from core.yamlfile import ConfigError

from .asgi import PROFILE_ENV, default_profile, preload

__all__ = ["http_protocol", "main"]

log = logging.getLogger("model_runtime")

ONLINE_TIMEOUT_S = 30.0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run a sub-command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except (ProfileError, ConfigError) as exc:
        print(f"model-runtime: invalid profile\n{exc}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    default = default_profile()
    parser = argparse.ArgumentParser(prog="model-runtime", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="command")

    serve = commands.add_parser("serve", help="serve the OpenAI-compatible API")
    serve.add_argument("--profile", default=default, help=f"profile YAML (default: {default})")
    serve.add_argument("--host", help="listen address (default: the profile's server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: the profile's server.port)")
    serve.add_argument("--workers", type=int, help="worker processes (default: the profile's server.workers)")
    serve.set_defaults(run=_serve)

    console = commands.add_parser("console", help="the terminal console of a running gateway")
    console.add_argument("--url", default=os.environ.get("MODEL_RUNTIME_URL", "http://127.0.0.1:8000"),
                         help="the gateway (default: $MODEL_RUNTIME_URL, else http://127.0.0.1:8000)")
    console.add_argument("--api-key", default=os.environ.get("MODEL_RUNTIME_API_KEY"),
                         help="a gateway key (default: $MODEL_RUNTIME_API_KEY)")
    console.add_argument("--theme", choices=["dark", "light"], default="dark")
    console.set_defaults(run=_console)

    profile = commands.add_parser("profile", help="profile tools").add_subparsers(required=True, metavar="action")
    check = profile.add_parser("check", help="load a profile and report every mistake with file:line")
    check.add_argument("path", nargs="?", default=default)
    check.add_argument("--online", action="store_true",
                       help="also check each instance's credentials against its upstream (exit 1 if one fails)")
    check.set_defaults(run=_check)

    providers = commands.add_parser("providers", help="the provider catalogue")
    providers.add_subparsers(required=True, metavar="action").add_parser(
        "list", help="list provider plug-ins").set_defaults(run=_providers)
    return parser


def http_protocol() -> Any:
    """uvicorn's ``http``: :class:`server.protocol.HttpProtocol` under the uvicorn versions it was written for (it
    reaches into uvicorn's connection and request cycle), uvicorn's own ``httptools`` protocol under any other:
    the same answers over plain ASGI, a third slower, rather than a server that breaks."""
    version = importlib.metadata.version("uvicorn")
    try:
        from .protocol import UVICORN_VERSIONS, HttpProtocol
    except ImportError as exc:
        log.warning("uvicorn %s: server.protocol cannot be used (%s); serving over plain ASGI", version, exc)
        return "httptools"
    if ".".join(version.split(".")[:2]) not in UVICORN_VERSIONS:
        log.warning("uvicorn %s: server.protocol was written for uvicorn %s; serving over plain ASGI", version,
                    " and ".join(UVICORN_VERSIONS))
        return "httptools"
    return HttpProtocol


def _serve(args: argparse.Namespace) -> int:
    from .workers import serve

    path = os.path.abspath(args.profile)
    loaded = load_profile(path)  # fail here, with file:line, before any worker starts
    server = loaded.profile.server
    os.environ[PROFILE_ENV] = path
    preload(loaded)
    options: dict[str, Any] = {
        "app": "server.asgi:app_from_env", "factory": True,
        "host": args.host or server.host, "port": server.port if args.port is None else args.port,
        "loop": "uvloop", "http": http_protocol(), "log_config": _log_config(), "access_log": False,
        "timeout_graceful_shutdown": 30,
    }
    return serve(options, args.workers or server.workers)


def _console(args: argparse.Namespace) -> int:
    from console.api import Gateway  # Textual loads only for this command
    from console.app import ConsoleApp

    ConsoleApp(Gateway(args.url, args.api_key), theme=args.theme).run()
    return 0


def _check(args: argparse.Namespace) -> int:
    loaded = load_profile(args.path)
    print(_summary(loaded))
    if not args.online:
        return 0
    rows = asyncio.run(_validate_online(loaded))
    width = max(len(name) for name, _, _ in rows) if rows else 0
    print("\nonline validation:")
    for name, provider, outcome in rows:
        print(f"  {name:{width}}  {provider:20}  {outcome}")
    return 0 if all(o in ("ok", "not configured") for _, _, o in rows) else 1


async def _validate_online(loaded: LoadedProfile) -> list[tuple[str, str, str]]:
    """Each configured instance's credentials checked against its upstream, concurrently."""
    runtime = Runtime(loaded)

    async def one(spec: InstanceSpec) -> tuple[str, str, str]:
        provider = runtime.providers.get(spec.name)
        if provider is None:
            return spec.name, spec.plugin.id, "not configured"
        try:
            async with asyncio.timeout(ONLINE_TIMEOUT_S):
                await provider.validate_credentials()
        except TimeoutError:
            return spec.name, spec.plugin.id, f"FAILED: no answer within {ONLINE_TIMEOUT_S:g}s"
        except ModelRuntimeError as exc:
            return spec.name, spec.plugin.id, f"FAILED: {exc.message}"
        return spec.name, spec.plugin.id, "ok"

    try:
        return list(await asyncio.gather(*(one(s) for s in loaded.instances.values())))
    finally:
        await runtime.aclose()


def _summary(loaded: LoadedProfile) -> str:
    lines = [f"{loaded.file}: ok"]
    for spec in loaded.instances.values():
        count = sum(len(m) for m in spec.models.values())
        state = "ready" if spec.not_configured is None else f"not configured ({spec.not_configured})"
        names = f"{count} models" + (" + any model name" if spec.any_model else "")
        lines.append(f"  provider {spec.name} ({spec.plugin.id}): {names}, {state}")
    for route in loaded.routes.values():
        targets = ", ".join(f"{t.instance}/{t.target.name}" for t in route.deployments)
        lines.append(f"  route {route.model} ({route.model_type}) -> {targets}")
    return "\n".join(lines)


def _providers(_: argparse.Namespace) -> int:
    for plugin in Registry.discover().plugins.values():
        schema = plugin.schema
        count = sum(len(m) for m in plugin.models.values())
        print(f"{schema.provider:18} {schema.label.en_US:26} {count:3} predefined models; "
              f"types: {', '.join(schema.supported_model_types)}; {', '.join(schema.configurate_methods)}")
    return 0


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["model_runtime"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # Access lines are JSON, one per request, on stdout: no level prefix to strip.
    config["formatters"]["json_lines"] = {"format": "%(message)s"}
    config["handlers"]["access_json"] = {"()": "server.access.JSONLines", "formatter": "json_lines"}
    # A binary stream the upstream broke off is logged where it happens; uvicorn's traceback would add nothing.
    config.setdefault("filters", {})["stream_aborted"] = {"()": "server.access.DropStreamAborted"}
    config["handlers"]["default"].setdefault("filters", []).append("stream_aborted")
    level = "INFO" if os.environ.get("MODEL_RUNTIME_ACCESS_LOG", "1") != "0" else "WARNING"
    config["loggers"]["model_runtime.access"] = {"handlers": ["access_json"], "level": level, "propagate": False}
    return config
