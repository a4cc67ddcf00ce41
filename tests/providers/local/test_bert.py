"""The numpy BERT encoder against what sentence-transformers gives for all-MiniLM-L6-v2 (no torch here to compare
with at run time: the reference cosines are the ones sentence-transformers' documentation prints for this model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("tokenizers", reason="the local extra is not installed (make test installs it)")

from providers.local.bert import BertEncoder
from providers.local.weights import packaged_file
from tests.providers.local import OFFLINE


@pytest.fixture(scope="module")
def encoder() -> Iterator[BertEncoder]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE.items():
            patch.setenv(name, value)
        yield BertEncoder(packaged_file("all_minilm_l6_v2", "model.zip"), threads=1)


def test_vectors_are_384_wide_and_unit_length(encoder: BertEncoder) -> None:
    vectors, tokens = encoder.encode(["hello", "a somewhat longer sentence about nothing in particular"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors ** 2).sum(1).max()) - 1) < 1e-5 and abs(float((vectors ** 2).sum(1).min()) - 1) < 1e-5
    assert tokens == 3 + 10  # [CLS] hello [SEP]; [CLS] + 8 words + [SEP]


def test_cosines_match_sentence_transformers(encoder: BertEncoder) -> None:
    sentences = ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse.",
                 "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums."]
    vectors, _ = encoder.encode(sentences)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] == pytest.approx(0.7553, abs=0.002)
    assert similarity[2, 3] == pytest.approx(0.7369, abs=0.002)
    assert similarity[0, 1] > similarity[0, 4] and similarity[2, 3] > similarity[2, 4]


def test_batching_and_padding_do_not_change_a_vector(encoder: BertEncoder) -> None:
    alone, _ = encoder.encode(["short"])
    mixed, _ = encoder.encode(["a much longer sentence that pads the short one in its batch " * 3, "short"])
    assert float(abs(alone[0] - mixed[1]).max()) < 1e-5


def test_long_texts_are_truncated_to_256_tokens(encoder: BertEncoder) -> None:
    _, tokens = encoder.encode(["word " * 1000])
    assert tokens == 256
