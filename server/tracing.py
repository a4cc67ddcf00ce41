"""Optional OpenTelemetry spans: one ``gateway.request`` span per request, through ``opentelemetry-api``.

The API alone records nothing: spans become real only when the process configures an SDK (for instance
``opentelemetry-instrument model-runtime serve`` with ``opentelemetry-distro`` installed). Attributes are the
route, the model, the deployment, the status and the token counts; never a prompt or a key.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from core.openai.usage import Usage

__all__ = ["Tracing"]


class Tracing:
    """Starts and ends request spans with the global tracer provider (a no-op until an SDK sets one)."""

    def __init__(self) -> None:
        self._tracer = trace.get_tracer("model_runtime")
        self.enabled = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        """Whether an SDK was configured before the app was built; if not, requests skip spans altogether."""

    def start(self, scope: MutableMapping[str, Any]) -> trace.Span:
        """A span for the request in ``scope``."""
        return self._tracer.start_span(f"{scope['method']} {scope['path_template']}", kind=SpanKind.SERVER,
                                       attributes={"http.request.method": scope["method"],
                                                   "http.route": scope["path_template"]})

    def end(self, span: trace.Span, status: int, model: str, deployment: str, usage: Usage | None) -> None:
        """Close ``span`` with what the answer said."""
        if span.is_recording():
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("gen_ai.request.model", model)
            span.set_attribute("model_runtime.deployment", deployment)
            if usage is not None:
                span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens or 0)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        span.end()
