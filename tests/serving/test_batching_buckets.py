"""Length bucketing of the embeddings batcher: a batch of texts of mixed length is encoded in sub-batches of
similar token length, each text's vector equal to encoding it alone and in request order; the torch thread
count of the model calls comes from the config."""

from __future__ import annotations

import asyncio
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from xling.embeddings.encoder import Encoder
from xling.serving.batching import Batcher, length_buckets
from xling.serving.config import BatchingConfig, ServeConfig
from xling.serving.services import EmbedItem, ServerState, embed_function

WORDS = ["the", "film", "was", "good", "der", "war", "schlecht", "a", "lovely", "day", "ein", "tag"]


@pytest.fixture(scope="module")
def transformer(tmp_path_factory) -> Encoder:
    """Return a random 2-layer BERT with a word-level tokenizer (a transformer pads its batches)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder: Path = tmp_path_factory.mktemp("tiny-bert")
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]")  # fmt: skip
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=0)  # fmt: skip
    BertModel(config).save_pretrained(folder)
    (folder / "xling.json").write_text(json.dumps({"pooling": "mean", "max_length": 128}))
    return Encoder.load(folder)


def texts_of_mixed_length(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 2, 3, 8, 9, 30, 60]))) for _ in range(count)
    ]


def test_buckets_cover_every_text_once_bounded_in_size_and_padding():
    rng = random.Random(1)
    lengths = [rng.choice([3, 4, 5, 12, 13, 40, 41, 90]) for _ in range(50)]
    for cost, size in ((8, 64), (8, 5), (0, 64), (30, 16)):
        buckets = length_buckets(lengths, cost, size)
        assert sorted(i for bucket in buckets for i in bucket) == list(range(len(lengths)))
        assert all(1 <= len(bucket) <= size for bucket in buckets)
        # no text is padded by more than one call's cost; buckets come shortest first
        for bucket in buckets:
            longest = max(lengths[i] for i in bucket)
            assert all(longest - lengths[i] <= cost for i in bucket), (cost, size, bucket)
        longest_each = [max(lengths[i] for i in bucket) for bucket in buckets]
        assert longest_each == sorted(longest_each)
    # equal lengths stay together; a call that costs much keeps the batch whole; 0 splits every length apart
    assert length_buckets([7] * 10, 16, 64) == [list(range(10))]
    assert len(length_buckets(lengths, 1_000_000, 64)) == 1
    assert len(length_buckets(lengths, 0, 64)) == len(set(lengths))
    assert length_buckets([], 16, 64) == []


def test_bucketed_batch_equals_each_text_alone_in_request_order(transformer):
    texts = texts_of_mixed_length(40)
    calls: list[list[str]] = []
    encode = transformer.encode

    class Spy:  # the encoder, recording each forward pass's texts
        module, kind, dimension = transformer.module, transformer.kind, transformer.dimension

        def encode(self, batch, **options):
            calls.append(list(batch))
            return encode(batch, **options)

    run = embed_function(Spy(), call_cost_tokens=4)
    results = run([EmbedItem(text) for text in texts])
    alone = transformer.encode(texts, batch_size=1)
    for (vector, tokens), expected in zip(results, alone, strict=True):
        np.testing.assert_allclose(vector, expected, atol=1e-5)
        assert tokens == 0  # /embed did not ask for token counts
    # several forward passes, each of texts within 4 tokens of its longest (2 specials per text)
    assert 1 < len(calls) < len(texts)
    for batch in calls:
        sizes = [len(text.split()) for text in batch]
        assert max(sizes) - min(sizes) <= 4
    # a call cost of a million: the whole batch in one forward pass, the same vectors
    calls.clear()
    whole = embed_function(Spy(), call_cost_tokens=1_000_000)([EmbedItem(text) for text in texts])
    assert len(calls) == 1
    np.testing.assert_allclose(np.stack([v for v, _ in whole]), alone, atol=1e-5)


def test_concurrent_requests_through_the_batcher_get_their_own_vectors(transformer):
    texts = texts_of_mixed_length(24, seed=2)
    requests = [texts[i : i + 3] for i in range(0, len(texts), 3)]

    async def scenario():
        batcher = Batcher("encoder", embed_function(transformer, 2), BatchingConfig(max_wait_ms=200))
        answers = await asyncio.gather(*(batcher.submit([EmbedItem(t, count_tokens=True) for t in request])
                                         for request in requests))  # fmt: skip
        stats = batcher.stats
        batcher.close()
        return answers, stats

    answers, stats = asyncio.run(scenario())
    assert stats.most_requests > 1
    for request, answer in zip(requests, answers, strict=True):
        assert len(answer) == len(request)
        for text, (vector, tokens) in zip(request, answer, strict=True):
            expected = transformer.encode([text])[0]
            np.testing.assert_allclose(vector, expected, atol=1e-5)
            assert tokens == len(text.split()) + 2


def test_model_calls_get_the_configured_torch_threads_and_translation_its_own():
    seen: dict[str, int] = {}

    def recorder(name: str):
        def run(items: list[str]) -> list[str]:
            seen[name] = torch.get_num_threads()
            return items

        return run

    async def scenario(state: ServerState):
        await state.batcher("encoder", lambda: recorder("encoder")).submit(["x"])
        # as the translate route asks: the translation runtime's `threads`
        translator = state.batcher("translator", lambda: recorder("translator"), threads=state.config.threads)
        await translator.submit(["x"])
        state.close()

    before = torch.get_num_threads()
    config = ServeConfig(encoder=None, detector=None, translator=None, encoder_threads=3, threads=2)
    asyncio.run(scenario(ServerState(config)))
    assert seen == {"encoder": 3, "translator": 2}
    assert torch.get_num_threads() == before  # set in the worker threads only
    # the default: half the usable cores, at least one, for translation too when `threads` is 0
    seen.clear()
    asyncio.run(scenario(ServerState(ServeConfig(encoder=None, detector=None, translator=None))))
    half = max(1, len(os.sched_getaffinity(0)) // 2)
    assert seen == {"encoder": half, "translator": half}
