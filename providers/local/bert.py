"""A sentence-embedding BERT encoder in numpy: all-MiniLM-L6-v2 without PyTorch.

The model is what sentence-transformers runs for it: a 6-layer BERT (384 wide, 12 heads, GELU), mean pooling
over the real tokens, then L2 normalisation, so cosine similarity is a dot product. Weights come from the
safetensors file (an 8-byte little-endian header length, a JSON header, raw little-endian buffers) read straight
out of the packaged zip into memory; the tokenizer is Hugging Face's ``tokenizers`` reading ``tokenizer.json``.
Matrix products go to numpy's BLAS, which releases the GIL; its threads are limited (``threads``, set process-wide
once) because OpenBLAS threads spin while they wait: on 2 busy cores, 11 short texts took 450 ms with 2 BLAS
threads and 90 ms with 1. Texts longer than 256 tokens are truncated, as sentence-transformers truncates them for
this model.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs or py.typed
from tokenizers import Tokenizer

__all__ = ["BertEncoder", "Floats"]

Floats = npt.NDArray[np.float32]
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
_BATCH = 32
"""Texts per forward pass: padding is to the longest of a batch, and texts are batched by length."""


def read_safetensors(data: bytes) -> dict[str, npt.NDArray[Any]]:
    """The tensors of a safetensors file held in memory (views on ``data``, not copies)."""
    (size,) = struct.unpack("<Q", data[:8])
    header: dict[str, Any] = json.loads(data[8:8 + size])
    base = 8 + size
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=_DTYPES[info["dtype"]], count=int(np.prod(info["shape"])),
                              offset=base + start)
        assert array.nbytes == end - start, name
        tensors[name] = array.reshape(info["shape"])
    return tensors


def _layer_norm(x: Floats, weight: Floats, bias: Floats, eps: float) -> Floats:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    normalised: Floats = (x - mean) / np.sqrt(var + eps) * weight + bias
    return normalised


def _gelu(x: Floats) -> Floats:
    """BERT's exact GELU, ``x * Φ(x)``, with erf from Abramowitz and Stegun 7.1.26 (error below 1.5e-7)."""
    z = x / np.float32(np.sqrt(2.0))
    sign = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = sign * (1.0 - poly * np.exp(-a * a))
    out: Floats = (0.5 * x * (1.0 + erf)).astype(np.float32)
    return out


class BertEncoder:
    """all-MiniLM-L6-v2 (or any BERT sentence-transformers model of the same layout) from its packaged zip."""

    def __init__(self, archive: Path, threads: int, max_tokens: int = 256) -> None:
        threadpool_limits(limits=threads, user_api="blas")
        with zipfile.ZipFile(archive) as zf:
            config = json.loads(zf.read("config.json"))
            # Copied into aligned arrays (the file's buffers need not be; its bytes are freed after), linear weights
            # transposed once, so every product is a plain BLAS call (the encoder's 2-D tensors are exactly its
            # linear layers' weights).
            self._weights = {name: np.array(t.T if t.ndim == 2 and name.startswith("encoder.") else t, order="C")
                             for name, t in read_safetensors(zf.read("model.safetensors")).items()}
            self.tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.dimensions = int(config["hidden_size"])

    def _w(self, name: str) -> Floats:
        return self._weights[name]

    def encode(self, texts: list[str]) -> tuple[Floats, int]:
        """Unit vectors, one row per text in order, and the number of tokens read (special tokens included)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        tokens = 0
        for start in range(0, len(order), _BATCH):
            batch = order[start:start + _BATCH]
            encodings = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            tokens += int(mask.sum())
            out[batch] = self._forward(ids, mask)
        return out, tokens

    def _forward(self, ids: npt.NDArray[np.int64], mask: Floats) -> Floats:
        w = self._w
        batch, length = ids.shape
        x = (w("embeddings.word_embeddings.weight")[ids] + w("embeddings.position_embeddings.weight")[:length]
             + w("embeddings.token_type_embeddings.weight")[0])
        x = _layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), self.eps)
        head = self.dimensions // self.heads
        # Padding positions get -inf-like scores, so no real token attends to them.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def proj(h: Floats, name: str, prefix: str = p) -> Floats:
                flat = h.reshape(-1, h.shape[-1]) @ w(f"{prefix}{name}.weight") + w(f"{prefix}{name}.bias")
                return flat.reshape(*h.shape[:-1], -1)

            def split(h: Floats) -> Floats:
                # Contiguous, so the batched products below go to BLAS instead of numpy's slow generic loop.
                return np.ascontiguousarray(h.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3))

            q, k, v = (split(proj(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(head)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dimensions)
            x = _layer_norm(x + proj(context, "attention.output.dense"), w(f"{p}attention.output.LayerNorm.weight"),
                            w(f"{p}attention.output.LayerNorm.bias"), self.eps)
            inner = _gelu(proj(x, "intermediate.dense"))
            x = _layer_norm(x + proj(inner, "output.dense"), w(f"{p}output.LayerNorm.weight"),
                            w(f"{p}output.LayerNorm.bias"), self.eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Floats = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
