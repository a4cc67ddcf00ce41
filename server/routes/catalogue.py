"""The provider catalogue: providers, icons, models, credential validation and the effective profile.

``GET /v1/providers[/{provider}]``, ``GET /v1/providers/{provider}/icon/{small|large}``,
``GET /v1/providers/{provider}/models``, ``POST /v1/providers/{provider}/credentials/validate``,
``POST /v1/providers/{provider}/models/credentials/validate``, ``GET /v1/profile``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery

from core import errors
from core.api import ValidateCredentials, ValidateModelCredentials, ValidationResult
from core.catalogue import model_view, profile_view, provider_view
from core.credentials import CredentialCheck, CredentialValueError, check_credentials
from core.model_types import ModelTarget, Provider, ProviderContext
from core.profile import InstanceSpec
from core.registry import ProviderPlugin
from core.schema import ConfigurateMethod
from core.secrets import Redactor

from ..decode import decode_body
from ._reply import Req, model_type_param, runtime

__all__ = ["get_provider", "list_providers", "profile", "provider_icon", "provider_models", "validate_credentials",
           "validate_model_credentials"]

ICON_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp"}
VALIDATION_TIMEOUT_S = 30.0


@get("/providers")
async def list_providers(request: Req) -> dict[str, Any]:
    """Every provider plug-in, in ``_position.yaml`` order, with its credential forms and its instances here."""
    loaded = runtime(request).loaded
    instances = list(loaded.instances.values())
    return {"object": "list",
            "data": [provider_view(p, instances, detail=False) for p in loaded.registry.plugins.values()]}


@get("/providers/{provider:str}")
async def get_provider(request: Req, provider: FromPath[str]) -> dict[str, Any]:
    """One provider, with its predefined models by type."""
    loaded = runtime(request).loaded
    return provider_view(_plugin(request, provider), list(loaded.instances.values()), detail=True)


@get("/providers/{provider:str}/icon/{size:str}", opt={"public": True}, cache=False)
async def provider_icon(request: Req, provider: FromPath[str], size: FromPath[str],
                        lang: FromQuery[str] = "en_US") -> Response[bytes]:
    """``small`` or ``large``, in ``lang`` when the provider has one (English otherwise). Needs no key."""
    plugin = _plugin(request, provider)
    if size not in ("small", "large"):
        raise errors.NotFoundError(f"icon size '{size}' does not exist: use small or large", param="size")
    icon = plugin.schema.icon_small if size == "small" else plugin.schema.icon_large
    if icon is None:
        raise errors.NotFoundError(f"provider '{provider}' has no {size} icon")
    name = str(msgspec.structs.asdict(icon).get(lang) or icon.en_US)
    folder = (plugin.directory / "icons").resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file() or path.suffix not in ICON_TYPES:
        raise errors.NotFoundError(f"provider '{provider}' has no {size} icon file")
    return Response(await asyncio.to_thread(path.read_bytes), media_type=ICON_TYPES[path.suffix],
                    headers={"cache-control": "public, max-age=86400"})


@get("/providers/{provider:str}/models")
async def provider_models(request: Req, provider: FromPath[str], model_type: FromQuery[str | None] = None,
                          instance: FromQuery[str | None] = None) -> dict[str, Any]:
    """Predefined models (of ``model_type``); with ``instance``, that instance's models, listed live too."""
    plugin = _plugin(request, provider)
    wanted = model_type_param(model_type) if model_type is not None else None
    rt = runtime(request)
    data: list[dict[str, Any]] = []
    remote_error: str | None = None
    if instance is None:
        data = [model_view(m) for t, ms in plugin.models.items() if wanted in (None, t) for m in ms]
    else:
        spec = _instance(request, plugin, instance)
        for model_type_, by_name in spec.models.items():
            if wanted in (None, model_type_):
                data += [model_view(t.schema) if t.schema else _custom_view(t) for t in by_name.values()]
        provider_object = rt.providers.get(spec.name)
        if provider_object is not None and ConfigurateMethod.FETCH_FROM_REMOTE in plugin.schema.configurate_methods:
            known = {d["model"] for d in data}
            try:
                names = await rt.remote_models.get(provider_object)
            except errors.ModelRuntimeError as exc:
                remote_error = exc.message
            else:
                data += [{"model": n, "model_type": None, "fetch_from": "fetch-from-remote"}
                         for n in names if n not in known]
    result: dict[str, Any] = {"object": "list", "data": data}
    if remote_error is not None:
        result["remote_error"] = remote_error
    return result


@post("/providers/{provider:str}/credentials/validate", status_code=200)
async def validate_credentials(request: Req, provider: FromPath[str]) -> ValidationResult:
    """Form rules first (required, options, length, ``show_on``), then a cheap real call upstream."""
    plugin = _plugin(request, provider)
    body, _ = decode_body(await request.body(), ValidateCredentials)
    forms = plugin.schema.provider_credential_schema
    check = check_credentials(forms.credential_form_schemas if forms else [],
                              _over_instance(request, plugin, body.instance, body.credentials), owner=plugin.id)
    return await _validate(request, plugin, check, None, body.instance)


@post("/providers/{provider:str}/models/credentials/validate", status_code=200)
async def validate_model_credentials(request: Req, provider: FromPath[str]) -> ValidationResult:
    """A customizable model: its form rules and the provider's, then the smallest real call to that model."""
    plugin = _plugin(request, provider)
    body, _ = decode_body(await request.body(), ValidateModelCredentials)
    model_type = model_type_param(body.model_type)
    if model_type not in plugin.schema.supported_model_types:
        return ValidationResult(valid=False, error=f"provider '{plugin.id}' does not serve {model_type} models")
    provider_forms = plugin.schema.provider_credential_schema
    provider_check = check_credentials(provider_forms.credential_form_schemas if provider_forms else [],
                                       _over_instance(request, plugin, body.instance, body.provider_credentials),
                                       owner=plugin.id)
    model_forms = plugin.schema.model_credential_schema
    model_check = check_credentials(model_forms.credential_form_schemas if model_forms else [], body.credentials,
                                    owner=plugin.id, model_type=model_type)
    problem = _form_problem(model_check)
    if problem:
        return ValidationResult(valid=False, error=problem)
    schema = plugin.predefined(model_type, body.model)
    try:
        schema = schema or plugin.provider_class().customizable_model_schema(body.model, model_type,
                                                                             model_check.values)
    except CredentialValueError as exc:
        return ValidationResult(valid=False, error=str(exc))
    target = ModelTarget(name=body.model, model_type=model_type, credentials=model_check.values, schema=schema)
    return await _validate(request, plugin, provider_check, target, body.instance)


@get("/profile")
async def profile(request: Req) -> dict[str, Any]:
    """The effective profile with every secret masked."""
    return profile_view(runtime(request).loaded)


async def _validate(request: Req, plugin: ProviderPlugin, check: CredentialCheck,
                    target: ModelTarget | None, instance: str | None) -> ValidationResult:
    """The verdict; errors name ``instance`` when the credentials are (over) that instance's, else the plug-in."""
    problem = _form_problem(check)
    if problem:
        return ValidationResult(valid=False, error=problem)
    cls = plugin.provider_class()
    try:
        cls.check_credential_values(check.values)
    except CredentialValueError as exc:
        return ValidationResult(valid=False, error=str(exc))
    router = runtime(request).loaded.profile.router
    context = ProviderContext(name=instance or plugin.id, schema=plugin.schema, credentials=check.values,
                              credential_hint="the credentials given",
                              timeout_s=min(router.timeout_s, VALIDATION_TIMEOUT_S),
                              connect_timeout_s=min(router.connect_timeout_s, VALIDATION_TIMEOUT_S))
    provider: Provider = cls(context)
    secret = plugin.schema.secret_variables()
    redact = Redactor(str(v) for values in (check.values, target.credentials if target else {})
                      for k, v in values.items() if k in secret and v)
    try:
        await (provider.validate_model_credentials(target) if target else provider.validate_credentials())
    except errors.ModelRuntimeError as exc:
        return ValidationResult(valid=False, error=redact(exc.message))
    finally:
        await provider.aclose()
    return ValidationResult(valid=True)


def _over_instance(request: Req, plugin: ProviderPlugin, instance: str | None,
                   given: dict[str, Any]) -> dict[str, Any]:
    """``given`` laid over the stored credentials of ``instance``.

    Only secret inputs may be replaced: anything else (``base_url``) could send the instance's stored secret to a
    server of the caller's choosing.
    """
    if instance is None:
        return given
    stored = _instance(request, plugin, instance).credentials
    secret = plugin.schema.secret_variables()
    moved = sorted(k for k, v in given.items() if k not in secret and v != stored.get(k))
    if moved:
        raise errors.InvalidRequestError(
            f"With 'instance', only secret credentials may be replaced, not {', '.join(moved)}: the instance's "
            "stored secrets never go to another server. Send all credentials without 'instance' instead.",
            param="credentials", code="invalid_value")
    return {**stored, **given}


def _form_problem(check: CredentialCheck) -> str | None:
    problems = [f"{p.variable}: {p.message}" for p in check.problems]
    problems += [f"{v}: required and empty" for v in check.empty_required]
    return "; ".join(problems) or None


def _plugin(request: Req, provider: str) -> ProviderPlugin:
    registry = runtime(request).loaded.registry
    if provider not in registry:
        raise errors.NotFoundError(f"provider '{provider}' does not exist. GET /v1/providers lists them.",
                                   param="provider", code="provider_not_found")
    return registry[provider]


def _instance(request: Req, plugin: ProviderPlugin, name: str) -> InstanceSpec:
    spec = runtime(request).loaded.instances.get(name)
    if spec is None or spec.plugin.id != plugin.id:
        raise errors.NotFoundError(f"provider '{plugin.id}' has no instance '{name}' in this profile",
                                   param="instance", code="instance_not_found")
    return spec


def _custom_view(target: ModelTarget) -> dict[str, Any]:
    return {"model": target.name, "model_type": str(target.model_type), "fetch_from": "customizable-model"}
