"""Gateway keys with scopes and limits (in-process state): exact under concurrency, OpenAI's 429s and headers,
usage per key with ``GET /v1/usage``, ``/metrics``, per-deployment limits in the router, secrets kept out of logs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families

from core.errors import AuthenticationError
from core.server_config import KeyConfig
from server.auth import GatewayKeys
from tests.conftest import UPSTREAM_KEY
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, eventually

ADMIN = "mr-admin-key-canary-5f0e2b7a91"
LIMITED = "mr-limited-key-canary-0c4d8e13"
PARALLEL = "mr-parallel-key-canary-7e2a9b55"
TOKENS = "mr-tokens-key-canary-3b8f6c20"
SCOPED = "mr-scoped-key-canary-a1d4e7f0"
GPT_ONLY = "mr-gpt-only-key-canary-5c2e9a71"
BUDGET = "mr-budget-key-canary-9c3e5a71"
RESPONSES_BUDGET = "mr-budget-key-canary-47d1c0e8"
PLAIN = "mr-plain-key-canary-62b0d4f8"
PROMPT = "PROMPT-CANARY-4e81 what is the weather"
ANTHROPIC_KEY = "sk-ant-limits-canary-91c3"
RPM = 5

# Hosted OpenAI-wire APIs by their own plug-ins (on the fake): all but Mistral take stream_options and are asked.
HOSTED = "".join(f"  - {{name: {name}, provider: {name}, "
                 'credentials: {api_key: "${FAKE_KEY}", base_url: "${FAKE_URL}"}}\n'
                 for name in ("deepseek", "groq", "together", "fireworks", "siliconflow", "moonshot", "mistral"))

PROFILE = f"""
server:
  api_keys: ["${{PLAIN}}"]
  keys:
    - {{name: ops, key: "${{ADMIN}}", admin: true}}
    - {{name: team-a, key: "${{LIMITED}}", rpm: {RPM}, tpm: 1000000}}
    - {{name: batch, key: "${{PARALLEL}}", max_parallel: 2}}
    - {{name: small, key: "${{TOKENS}}", tpm: 10}}
    - {{name: chat-only, key: "${{SCOPED}}", models: ["chat", "openai/gpt-*"], paths: ["/v1/chat/*", "/v1/models*"]}}
    - {{name: gpt-only, key: "${{GPT_ONLY}}", models: ["openai/gpt-*"]}}
    - {{name: thrifty, key: "${{BUDGET}}", budget: {{amount: 0.0000001, period: day}}}}
    - {{name: thrifty-agent, key: "${{RESPONSES_BUDGET}}", budget: {{amount: 0.0000001, period: day}}}}
providers:
  - name: up
    provider: openai_compatible
    credentials: {{base_url: "${{FAKE_URL}}", api_key: "${{FAKE_KEY}}"}}
  - name: up-usage
    provider: openai_compatible
    credentials: {{base_url: "${{FAKE_URL}}", api_key: "${{FAKE_KEY}}", stream_usage: support}}
  - name: openai
    provider: openai
    credentials: {{api_key: "${{FAKE_KEY}}", base_url: "${{FAKE_URL}}"}}
    models: [gpt-4o-mini, text-embedding-3-small]
  - name: anthropic
    provider: anthropic
    credentials: {{api_key: "${{ANTHROPIC_KEY}}", base_url: "${{ANTHROPIC_URL}}"}}
{HOSTED}routes:
  - model: chat
    model_type: llm
    deployments: [{{target: up/gpt-4o-mini}}]
  - model: spill
    model_type: llm
    deployments:
      - {{target: up/first, weight: 1000000, rpm: 2}}
      - {{target: up/second, weight: 0.000001}}
  - model: capped
    model_type: llm
    deployments: [{{target: up/capped, rpm: 1}}]
router: {{retries: 0}}
"""


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(ANTHROPIC_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(upstream: FakeOpenAI, anthropic: FakeAnthropic) -> Iterator[GatewayProcess]:
    with GatewayProcess(PROFILE, environment(upstream, anthropic)) as gw:
        yield gw


def environment(upstream: FakeOpenAI, anthropic: FakeAnthropic) -> dict[str, str]:
    return {"ADMIN": ADMIN, "LIMITED": LIMITED, "PARALLEL": PARALLEL, "TOKENS": TOKENS, "SCOPED": SCOPED,
            "GPT_ONLY": GPT_ONLY, "BUDGET": BUDGET, "RESPONSES_BUDGET": RESPONSES_BUDGET, "PLAIN": PLAIN,
            "FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY, "ANTHROPIC_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_URL": anthropic.base_url}


def sdk(gateway: GatewayProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def chat(gateway: GatewayProcess, key: str, model: str = "chat") -> httpx.Response:
    return httpx.post(f"{gateway.base_url}/chat/completions", headers={"authorization": f"Bearer {key}"},
                      json={"model": model, "messages": [{"role": "user", "content": PROMPT}]}, timeout=10)


async def burst(gateway: GatewayProcess, key: str, n: int, model: str = "chat") -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10,
                                 headers={"authorization": f"Bearer {key}"}) as client:
        body = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
        return list(await asyncio.gather(*(client.post("/chat/completions", json=body) for _ in range(n))))


async def test_a_key_limited_to_m_rpm_gets_exactly_m_of_n_concurrent_requests(gateway: GatewayProcess) -> None:
    answers = await burst(gateway, LIMITED, 3 * RPM)
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(ok) == RPM and len(refused) == 2 * RPM
    assert sorted(int(a.headers["x-ratelimit-remaining-requests"]) for a in ok) == list(range(RPM))
    assert all(a.headers["x-ratelimit-limit-requests"] == str(RPM) for a in answers)
    assert ok[0].headers["x-ratelimit-limit-tokens"] == "1000000"
    refusal = refused[0]
    assert refusal.json() == {"error": {
        "message": refusal.json()["error"]["message"], "type": "rate_limit_error", "param": None,
        "code": "rate_limit_exceeded"}}
    assert "requests per min (RPM): Limit 5" in refusal.json()["error"]["message"]
    assert 1 <= int(refusal.headers["retry-after"]) <= 60
    assert refusal.headers["x-ratelimit-remaining-requests"] == "0"
    assert refusal.headers["x-ratelimit-remaining-tokens"] != ""
    async with sdk(gateway, LIMITED) as client:
        with pytest.raises(openai.RateLimitError) as caught:  # the official SDK sees OpenAI's error
            await client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "rate_limit_exceeded"


async def test_max_parallel_is_exact_and_slots_come_back(gateway: GatewayProcess) -> None:
    answers = await burst(gateway, PARALLEL, 6, model="up/fault-stall-0.5")
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 429, 429, 429, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["error"]["code"] == "concurrency_limit_exceeded"
    for _ in range(4):  # one after the other: each finds its slot free again
        assert chat(gateway, PARALLEL).status_code == 200


def test_tokens_per_minute_count_the_usage_of_answers(gateway: GatewayProcess) -> None:
    first = chat(gateway, TOKENS)
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining-tokens"] == "10"
    assert first.json()["usage"]["total_tokens"] >= 10
    second = chat(gateway, TOKENS)
    assert second.status_code == 429
    assert "tokens per min (TPM): Limit 10" in second.json()["error"]["message"]
    assert second.headers["x-ratelimit-remaining-tokens"] == "0"


def test_key_scopes_hide_models_and_forbid_paths(gateway: GatewayProcess) -> None:
    assert chat(gateway, SCOPED).status_code == 200
    assert chat(gateway, SCOPED, "openai/gpt-4o-mini").status_code == 200
    hidden = chat(gateway, SCOPED, "up/gpt-4o-mini")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "model_not_found" and hidden.json()["error"]["param"] == "model"
    embeddings = httpx.post(f"{gateway.base_url}/embeddings", headers={"authorization": f"Bearer {SCOPED}"},
                            json={"model": "openai/text-embedding-3-small", "input": "x"}, timeout=10)
    assert embeddings.status_code == 403 and embeddings.json()["error"]["type"] == "permission_error"
    listed = httpx.get(f"{gateway.base_url}/models", headers={"authorization": f"Bearer {SCOPED}"}, timeout=10)
    assert {m["id"] for m in listed.json()["data"]} == {"chat", "openai/gpt-4o-mini"}
    hidden_model = httpx.get(f"{gateway.base_url}/models/spill", headers={"authorization": f"Bearer {SCOPED}"})
    assert hidden_model.status_code == 404 and hidden_model.json()["error"]["code"] == "model_not_found"
    assert chat(gateway, "not-a-key").status_code == 401


def test_a_key_counts_tokens_only_for_the_models_it_may_use(gateway: GatewayProcess) -> None:
    def count(model: str) -> httpx.Response:
        return httpx.post(f"{gateway.base_url}/tokens/count", headers={"authorization": f"Bearer {GPT_ONLY}"},
                          json={"model": model, "messages": [{"role": "user", "content": "hi"}]}, timeout=10)

    assert count("openai/gpt-4o-mini").status_code == 200
    hidden = count("anthropic/claude-haiku-4-5")  # not even its context size
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "model_not_found"


def test_a_spent_budget_answers_insufficient_quota(gateway: GatewayProcess) -> None:
    first = chat(gateway, BUDGET, "openai/gpt-4o-mini")  # priced: its cost exceeds the tiny budget
    assert first.status_code == 200 and Decimal(first.headers["x-model-runtime-cost"]) > 0
    second = chat(gateway, BUDGET, "openai/gpt-4o-mini")
    assert second.status_code == 429
    assert second.json()["error"]["type"] == "insufficient_quota"
    assert second.json()["error"]["code"] == "insufficient_quota"


def test_the_responses_api_counts_against_the_keys_limits_and_its_usage_is_recorded(
        gateway: GatewayProcess) -> None:
    def respond(key: str, model: str = "openai/gpt-4o-mini", **extra: Any) -> httpx.Response:
        return httpx.post(f"{gateway.base_url}/responses", headers={"authorization": f"Bearer {key}"},
                          json={"model": model, "input": PROMPT, **extra}, timeout=10)

    assert respond(RESPONSES_BUDGET).status_code == 200  # priced: its cost exceeds the tiny budget
    assert respond(RESPONSES_BUDGET).status_code == chat(gateway, RESPONSES_BUDGET, "openai/gpt-4o-mini").status_code
    assert respond(RESPONSES_BUDGET).status_code == 429
    model = "up-usage/gpt-4o-mini"  # a stream's usage is asked for (and the usage test counts openai/'s rows)
    before = totals(gateway, model)
    plain, streamed = respond(ADMIN, model), respond(ADMIN, model, stream=True)
    assert plain.status_code == streamed.status_code == 200
    usage = plain.json()["usage"]
    completed = json.loads(streamed.text.rstrip().rsplit("data: ", 1)[1])
    assert completed["type"] == "response.completed" and completed["response"]["usage"] == usage
    after = totals(gateway, model)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (
        2, 2 * usage["input_tokens"], 2 * usage["output_tokens"])


def test_plain_api_keys_keep_working_unlimited(gateway: GatewayProcess) -> None:
    answers = [chat(gateway, PLAIN) for _ in range(RPM + 2)]
    assert all(a.status_code == 200 and "x-ratelimit-limit-requests" not in a.headers for a in answers)


def test_a_deployment_over_its_rpm_is_skipped_then_the_route_answers_429(gateway: GatewayProcess) -> None:
    served = [chat(gateway, ADMIN, "spill").headers["x-model-runtime-deployment"] for _ in range(4)]
    assert served == ["up/first", "up/first", "up/second", "up/second"]
    assert chat(gateway, ADMIN, "capped").status_code == 200
    saturated = chat(gateway, ADMIN, "capped")
    assert saturated.status_code == 429 and saturated.json()["error"]["code"] == "deployments_saturated"
    assert int(saturated.headers["retry-after"]) >= 1


async def test_usage_totals_equal_the_sum_of_the_answers(gateway: GatewayProcess) -> None:
    async with sdk(gateway, ADMIN) as client:
        answers = [await client.chat.completions.create(model="openai/gpt-4o-mini",
                                                        messages=[{"role": "user", "content": f"{PROMPT} {i}"}])
                   for i in range(3)]
        stream = await client.chat.completions.create(model="openai/gpt-4o-mini", stream=True,
                                                      stream_options={"include_usage": True},
                                                      messages=[{"role": "user", "content": PROMPT}])
        streamed = [chunk.usage async for chunk in stream if chunk.usage is not None]
    usages = [a.usage for a in answers] + streamed
    assert len(usages) == 4 and all(u is not None for u in usages)
    assert chat(gateway, ADMIN, "up/fault-status-500").status_code == 502
    response = httpx.get(f"{gateway.base_url}/usage", params={"key": "ops", "model": "openai/gpt-4o-mini"},
                         headers={"authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert response.status_code == 200
    [row] = response.json()["data"]
    assert row["deployment"] == "openai/gpt-4o-mini" and row["requests"] == 4 and row["errors"] == 0
    assert row["prompt_tokens"] == sum(u.prompt_tokens for u in usages if u)
    assert row["completion_tokens"] == sum(u.completion_tokens for u in usages if u)
    expected = sum((Decimal("0.15") * u.prompt_tokens + Decimal("0.60") * u.completion_tokens) / 10**6
                   for u in usages if u)
    assert abs(Decimal(str(row["cost"])) - expected) < Decimal("1e-12")
    everything = httpx.get(f"{gateway.base_url}/usage", headers={"authorization": f"Bearer {ADMIN}"}).json()
    failed = [r for r in everything["data"] if r["model"] == "up/fault-status-500"]
    assert failed and failed[0]["errors"] == 1
    assert everything["totals"]["requests"] == sum(r["requests"] for r in everything["data"])


def totals(gateway: GatewayProcess, model: str) -> tuple[int, int, int]:
    """Requests, prompt and completion tokens recorded for the admin key and ``model``."""
    response = httpx.get(f"{gateway.base_url}/usage", params={"key": "ops", "model": model},
                         headers={"authorization": f"Bearer {ADMIN}"}, timeout=10)
    rows = [r for r in response.json()["data"] if r["model"] == model]
    return (sum(r["requests"] for r in rows), sum(r["prompt_tokens"] for r in rows),
            sum(r["completion_tokens"] for r in rows))


@pytest.mark.parametrize(("model", "counted"), [("anthropic/claude-haiku-4-5", 2), ("openai/gpt-4o-mini", 2),
                                               ("up-usage/gpt-4o-mini", 2), ("up/gpt-4o-mini", 1),
                                               ("deepseek/deepseek-chat", 2),
                                               ("groq/llama-3.3-70b-versatile", 2), ("together/llama-3.3-70b", 2),
                                               ("fireworks/llama-v3p3-70b-instruct", 2),
                                               ("siliconflow/qwen2.5-7b-instruct", 2), ("moonshot/kimi-k2.6", 2),
                                               # not asked: Mistral refuses stream_options (its streams report
                                               # their usage unasked; this fake's, like OpenAI's, do not)
                                               ("mistral/mistral-small-latest", 1)])
async def test_streams_count_their_usage_whether_or_not_the_client_asked_to_see_it(
        gateway: GatewayProcess, upstream: FakeOpenAI, model: str, counted: int) -> None:
    # Otherwise a stream without include_usage would escape the key's tpm and budget.
    question: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"{PROMPT} a story about {model}"}]
    before = totals(gateway, model)
    async with sdk(gateway, ADMIN) as client:
        shown = await client.chat.completions.create(model=model, messages=question, stream=True,
                                                     stream_options={"include_usage": True})
        [usage] = [chunk.usage async for chunk in shown if chunk.usage is not None]
        hidden = await client.chat.completions.create(model=model, messages=question, stream=True)
        chunks = [chunk async for chunk in hidden]
    assert chunks and all(chunk.usage is None and chunk.choices for chunk in chunks)  # no usage chunk: not asked
    if counted == 2 and not model.startswith("anthropic/"):  # OpenAI's API, or an instance that says it takes it
        assert upstream.requests[-1].json()["stream_options"] == {"include_usage": True}  # asked by the gateway
    elif not model.startswith("anthropic/"):
        assert "stream_options" not in upstream.requests[-1].json()
    requests, prompt, completion = (after - was for after, was in zip(totals(gateway, model), before, strict=True))
    assert requests == 2
    # A native provider reports usage anyway; a generic OpenAI-compatible server only when asked, and the gateway
    # asks only where the instance says the server takes it (stream_usage: support): elsewhere the second
    # stream's tokens stay unknown.
    assert (prompt, completion) == (counted * usage.prompt_tokens, counted * usage.completion_tokens)


async def test_a_stream_cut_short_is_charged_what_the_upstream_reported(gateway: GatewayProcess) -> None:
    model = "anthropic/fault-cut-3"  # message_start (with the input tokens), two more events, then the line drops
    before = totals(gateway, model)
    async with sdk(gateway, ADMIN) as client:
        stream = await client.chat.completions.create(model=model, stream=True,
                                                      messages=[{"role": "user", "content": PROMPT}])
        with pytest.raises(openai.APIError):  # the gateway's error event for the cut
            [chunk async for chunk in stream]
    requests, prompt, _ = (after - was for after, was in zip(totals(gateway, model), before, strict=True))
    assert requests == 1 and prompt > 0


def test_usage_is_for_admin_keys_only(gateway: GatewayProcess) -> None:
    for key in (PLAIN, LIMITED):
        answer = httpx.get(f"{gateway.base_url}/usage", headers={"authorization": f"Bearer {key}"}, timeout=10)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "admin_key_required"


def metric(gateway: GatewayProcess, name: str, **labels: str) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


def test_metrics_parse_and_move(gateway: GatewayProcess) -> None:
    route = {"route": "/v1/chat/completions", "model": "chat", "deployment": "up/gpt-4o-mini", "status": "200"}
    before = metric(gateway, "model_runtime_requests_total", **route)
    tokens = metric(gateway, "model_runtime_tokens_total", model="chat", kind="completion")
    latency = metric(gateway, "model_runtime_request_duration_seconds_count", route="/v1/chat/completions")
    answer = chat(gateway, ADMIN)
    assert answer.status_code == 200
    assert metric(gateway, "model_runtime_requests_total", **route) == before + 1
    assert metric(gateway, "model_runtime_tokens_total", model="chat", kind="completion") == (
        tokens + answer.json()["usage"]["completion_tokens"])
    assert metric(gateway, "model_runtime_request_duration_seconds_count",
                  route="/v1/chat/completions") == latency + 1
    # Chatchat's provider routes keep Litestar's route name, whoever serves them (audio still goes through Litestar)
    provider_route = {"route": "/{provider}/v1/chat/completions", "model": "up/gpt-4o-mini", "status": "200"}
    served = metric(gateway, "model_runtime_requests_total", **provider_route)
    assert httpx.post(f"{gateway.url}/up/v1/chat/completions", headers={"authorization": f"Bearer {ADMIN}"},
                      json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                      timeout=10).status_code == 200
    assert metric(gateway, "model_runtime_requests_total", **provider_route) == served + 1
    errors = metric(gateway, "model_runtime_upstream_errors_total", status="503")
    assert chat(gateway, ADMIN, "up/fault-status-503").status_code == 503
    assert metric(gateway, "model_runtime_upstream_errors_total", status="503") == errors + 1
    assert metric(gateway, "model_runtime_in_flight_requests") == 0


def test_refused_requests_are_counted_by_route_and_status(gateway: GatewayProcess) -> None:
    def refused(route: str, status: str) -> float:
        return metric(gateway, "model_runtime_requests_total", route=route, status=status)

    before = (refused("/v1/chat/completions", "401"), refused("/v1/embeddings", "403"), refused("/v1/usage", "403"))
    assert chat(gateway, "mr-wrong-key-canary-77e2").status_code == 401
    assert httpx.post(f"{gateway.base_url}/embeddings", headers={"authorization": f"Bearer {SCOPED}"},
                      json={"model": "openai/text-embedding-3-small", "input": "x"}, timeout=10).status_code == 403
    assert httpx.get(f"{gateway.base_url}/usage", headers={"authorization": f"Bearer {PLAIN}"},
                     timeout=10).status_code == 403  # a Litestar route: the same count
    after = (refused("/v1/chat/completions", "401"), refused("/v1/embeddings", "403"), refused("/v1/usage", "403"))
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1)
    limited = refused("/v1/chat/completions", "429")
    answers = [chat(gateway, TOKENS).status_code for _ in range(3)]  # tpm 10: spent by the first answer
    assert 429 in answers
    assert refused("/v1/chat/completions", "429") == limited + answers.count(429)


def test_metrics_add_up_every_worker(upstream: FakeOpenAI, anthropic: FakeAnthropic) -> None:
    with GatewayProcess(PROFILE, environment(upstream, anthropic), workers=2) as gw:
        for _ in range(12):  # a new connection each: the kernel spreads them over both workers' sockets
            assert chat(gw, ADMIN).status_code == 200
        route = {"route": "/v1/chat/completions", "status": "200"}
        # Each scrape reaches either worker, and each answers the sum of both (the other worker's values reach
        # the shared files within server.metrics.FLUSH_S).
        assert eventually(lambda: [metric(gw, "model_runtime_requests_total", **route) for _ in range(6)] == [12.0] * 6,
                          5.0)
        assert eventually(lambda: metric(gw, "model_runtime_in_flight_requests") == 0, 5.0)


def test_no_secret_or_prompt_reaches_the_log_or_the_profile_view(gateway: GatewayProcess) -> None:
    chat(gateway, LIMITED)
    chat(gateway, "mr-wrong-key-canary-11aa")
    profile = httpx.get(f"{gateway.base_url}/profile", headers={"authorization": f"Bearer {ADMIN}"}).text
    log = gateway.log()
    for secret in (ADMIN, LIMITED, PARALLEL, TOKENS, SCOPED, BUDGET, PLAIN, "mr-wrong-key-canary-11aa"):
        assert secret not in log and secret not in profile
    assert "PROMPT-CANARY-4e81" not in log
    assert '"name":"team-a"' in profile.replace(" ", "")


def test_keys_whose_secrets_are_unset_let_nobody_in() -> None:
    keys = GatewayKeys([""], [KeyConfig(name="a", key="")])
    assert not keys.open
    for presented in (None, "", "anything"):
        with pytest.raises(AuthenticationError):
            keys.check(presented)
    assert GatewayKeys([""]).open  # nothing configured at all: open, as before (a warning is logged)
