"""A fake Azure OpenAI resource: `FakeOpenAI`'s answers behind Azure's routes, keys and errors.

Routes (as the Azure OpenAI data-plane reference and the `openai.AzureOpenAI` client use them):

* `/openai/deployments/{deployment}/{operation}?api-version=...` for chat/completions, completions, embeddings,
  audio/transcriptions, audio/translations and audio/speech; the body's `model` is ignored, the deployment
  decides the model (and the `model` field of the answer);
* `/openai/v1/{operation}`: the versionless v1 API, the deployment named by the body's `model`;
* `GET /openai/models?api-version=...` and `GET /openai/v1/models`.

Authentication: the `api-key` header, or `Authorization: Bearer` (Entra ID tokens). Azure's own failures:

* no `api-version` on a deployment route: 404 `{"error": {"code": "404", "message": "Resource not found"}}`;
  an unsupported one: 400 `{"error": {"code": "BadRequest", "message": "API version not supported"}}`;
* a wrong key: 401 `{"error": {"code": "401", "message": "Access denied due to invalid subscription key ..."}}`;
* an unknown deployment: 404 `DeploymentNotFound`;
* a chat prompt containing "forbidden-topic": 400 `content_filter` with the filter's verdict in `innererror`;
* `stream_options` under an api-version older than 2024-09-01-preview (here 2024-06-01), which does not know it:
  400 `{"error": {"message": "Unrecognized request argument supplied: stream_options", "type":
  "invalid_request_error", "param": null, "code": null}}`.

Everything else (faults by model name, streaming, audio) is `FakeOpenAI`'s; fault names go in the deployment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from tests.fakes import openai_wire as wire
from tests.fakes.asgi_server import Scope
from tests.fakes.openai_upstream import FakeOpenAI, _decode, _Exchange, _headers

__all__ = ["API_VERSIONS", "FILTER_TRIGGER", "FakeAzureOpenAI"]

API_VERSIONS = frozenset({"2024-06-01", "2024-10-21", "2025-01-01-preview", "2025-04-01-preview"})
STREAM_OPTIONS_SINCE = "2024-09-01"
"""The first api-version (2024-09-01-preview; GA 2024-10-21) that takes `stream_options`."""
FILTER_TRIGGER = "forbidden-topic"
_DEPLOYMENT_ROUTE = re.compile(r"/openai/deployments/([^/]+)/(.+)")
_OPERATIONS = frozenset({"chat/completions", "completions", "embeddings", "audio/transcriptions",
                         "audio/translations", "audio/speech"})
_FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify "
    "your prompt and retry. To learn more about our content filtering policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766"
)


def _azure_error(status: int, code: str, message: str) -> wire.APIError:
    err = wire.APIError(status, message)
    err.error = {"code": code, "message": message}
    return err


class FakeAzureOpenAI(FakeOpenAI):
    """A resource with `deployments` (deployment name -> model); its endpoint is `base_url`."""

    def __init__(self, api_key: str, deployments: Mapping[str, str]) -> None:
        super().__init__(api_key)
        self.deployments = dict(deployments)

    @property
    def base_url(self) -> str:
        """The resource endpoint (`https://<resource>.openai.azure.com` in real life)."""
        return f"http://127.0.0.1:{self.port}"

    async def _dispatch(self, ex: _Exchange, method: str, path: str, scope: Scope, body: bytes) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        match = _DEPLOYMENT_ROUTE.fullmatch(path)
        versioned = match is not None or path == "/openai/models"
        version: str | None = None
        if not (versioned or path.startswith("/openai/v1/")):
            raise _azure_error(404, "404", "Resource not found")
        if versioned:
            version = query.get("api-version", [None])[0]
            if version is None:
                raise _azure_error(404, "404", "Resource not found")
            if version not in API_VERSIONS:
                raise _azure_error(400, "BadRequest", "API version not supported")
        self._authenticate(scope)
        if path in ("/openai/models", "/openai/v1/models"):
            if method != "GET":
                raise wire.invalid_method(method, path, "GET")
            await ex.json(200, wire.models_list())
            return
        operation = match.group(2) if match is not None else path.removeprefix("/openai/v1/")
        if operation not in _OPERATIONS:
            raise _azure_error(404, "404", "Resource not found")
        if method != "POST":
            raise wire.invalid_method(method, path, "POST")
        payload = self._payload(operation, scope, body)
        deployment = match.group(1) if match is not None else str(payload.get("model", ""))
        if deployment.startswith("fault-"):
            model = deployment  # FakeOpenAI's faults, chosen by deployment name
        elif deployment in self.deployments:
            model = self.deployments[deployment]
        else:
            raise _azure_error(404, "DeploymentNotFound", "The API deployment for this resource does not exist. If "
                               "you created the deployment within the last 5 minutes, please wait a moment and try "
                               "again.")
        if operation == "chat/completions" and FILTER_TRIGGER in str(payload.get("messages")):
            raise _content_filter()
        if "stream_options" in payload and version is not None and version < STREAM_OPTIONS_SINCE:
            raise wire.APIError(400, "Unrecognized request argument supplied: stream_options")
        await self._post(ex, "/v1/" + operation, {**payload, "model": model})

    def _payload(self, operation: str, scope: Scope, body: bytes) -> dict[str, Any]:
        if operation in ("audio/transcriptions", "audio/translations"):
            return wire.form_body(wire.parse_form(_headers(scope).get("content-type", ""), body))
        return _decode(body)

    def _authenticate(self, scope: Scope) -> None:
        headers = _headers(scope)
        key = headers.get("api-key")
        if key is None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else None
        if key != self.api_key:
            raise _azure_error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint. "
                               "Make sure to provide a valid key for an active subscription and use a correct "
                               "regional API endpoint for your resource.")


def _content_filter() -> wire.APIError:
    err = wire.APIError(400, _FILTER_MESSAGE, param="prompt", code="content_filter")
    verdict = {category: {"filtered": category == "violence",
                          "severity": "medium" if category == "violence" else "safe"}
               for category in ("hate", "self_harm", "sexual", "violence")}
    err.error = {**err.error, "type": None, "status": 400,
                 "innererror": {"code": "ResponsibleAIPolicyViolation",
                                "content_filter_result": {**verdict, "jailbreak": {"filtered": False,
                                                                                    "detected": False}}}}
    return err
