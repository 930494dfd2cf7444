"""The server's state (config, models, metrics, batchers) and the model functions its batchers run.

Each model function takes the items of a whole batch (many requests' texts with their options) and returns a
result per item, or an exception in an item's place, so that a text the library refuses fails only its own
request. They run in the batchers' worker threads, never on the event loop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anyio
import numpy as np
from starlette.requests import Request

from xling.errors import BusyError, XlingError
from xling.langid import label_matches
from xling.serving.batching import Batcher, each_alone, length_buckets
from xling.serving.config import BatchingConfig, ServeConfig
from xling.serving.errors import ApiError
from xling.serving.metrics import Metrics
from xling.serving.models import IndexEntry, ModelRegistry

ENCODE_BATCH = 64  # texts per encoder forward pass inside one batch


class ServerState:
    """What one app holds: config, models, metrics and one batcher per model function."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.registry = ModelRegistry(config)
        self.metrics = Metrics()
        self._batchers: dict[str, Batcher] = {}

    async def model(self, name: str) -> Any:
        """Return a loaded model; a model not tried yet loads in a thread (the event loop keeps serving);
        ModelUnavailable (503) when it is not configured or failed."""
        slot = self.registry.slots.get(name)
        if slot is not None and slot.state == "pending":
            return await anyio.to_thread.run_sync(self.registry.get, name)
        return self.registry.get(name)

    def batcher(self, name: str, make: Callable[[], Callable[[list[Any]], list[Any]]],
                chars: Callable[[Any], int] | None = None, threads: int = 0) -> Batcher:  # fmt: skip
        """Return the batcher called `name`, made on first use around the model function `make()` returns;
        its calls run with `threads` torch threads (0: `ServeConfig.model_threads()`)."""
        batcher = self._batchers.get(name)
        if batcher is None:
            run = make()
            # torch's thread count is per worker thread (a new thread starts with the last one set anywhere):
            # each batcher sets its own
            threads = threads if threads > 0 else self.config.model_threads()
            batcher = Batcher(
                name, with_torch_threads(run, threads), self.config.batching, self.metrics, chars
            )
            self._batchers[name] = batcher
        return batcher

    @property
    def batchers(self) -> dict[str, Batcher]:
        return dict(self._batchers)

    def close(self) -> None:
        """Return nothing; stop the batchers and close the indexes."""
        for batcher in self._batchers.values():
            batcher.close()
        self._batchers.clear()
        self.registry.close()


async def submit(request: Request, batcher: Batcher, items: Sequence[Any]) -> list[Any]:
    """Return the batcher's results of `items`; ClientLeft (counted as 499, never answered) when the
    request's client hangs up first, its job dropped if still queued (Starlette does not cancel a handler
    whose client went away, so without this an abandoned request would still take its turn at the model)."""
    return await batcher.submit(items, left=lambda: client_left(request))


async def client_left(request: Request) -> None:
    """Return once the request's client has disconnected (its body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def with_torch_threads(
    run: Callable[[list[Any]], list[Any]], threads: int
) -> Callable[[list[Any]], list[Any]]:
    """Return `run` setting torch's CPU threads to `threads` first in the thread that calls it (a batcher's
    worker; torch's thread count is per thread); `run` itself when `threads` is 0."""
    if threads < 1:
        return run

    def threaded(items: list[Any]) -> list[Any]:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return run(items)

    return threaded


BUSY_RETRY_AFTER_S = "5"
"""Retry-After of a 503 for a resource another process holds (an index being written to)."""


def busy_error(error: BusyError) -> ApiError:
    """Return the answer to a BusyError: 503 with Retry-After, code `busy` (the metrics' kind too)."""
    return ApiError(503, str(error), None, {"Retry-After": BUSY_RETRY_AFTER_S}, code="busy")


def item_error(results: list[Any], field: str, batch: bool) -> None:
    """Return nothing; raise the first exception among `results` as an ApiError naming its text's field
    (`q[2]`), 400 for what the library refused (its message kept), 503 for a BusyError."""
    for i, result in enumerate(results):
        if isinstance(result, BaseException):
            name = f"{field}[{i}]" if batch else field
            if isinstance(result, ApiError):
                raise ApiError(result.status, f"{name}: {result.message}", name, result.headers, result.code)
            if isinstance(result, BusyError):  # not the text's fault: the same request may pass later
                raise busy_error(result)
            if isinstance(result, XlingError):
                raise ApiError(400, f"{name}: {result}", name)
            raise result


# --- embeddings -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbedItem:
    """One text to embed and what its request asked for."""

    text: str
    normalize: bool = True
    truncate: bool = True
    """False: a text over the model's token limit is refused (413) rather than cut."""
    count_tokens: bool = False


def token_limit(encoder: Any) -> int | None:
    """Return the encoder's input limit in tokens (None: it has none, as a static encoder)."""
    if getattr(encoder, "kind", None) == "static":
        return None
    limit = getattr(encoder.module, "max_length", None)
    return int(limit) if isinstance(limit, int) else None


def embed_function(encoder: Any, call_cost_tokens: int | None = None) -> EmbedFunction:
    """Return the model function of the embeddings batcher: (vector, tokens) per item, a transformer's batch
    encoded in sub-batches of similar token length (`call_cost_tokens`: the server's
    `[serve.batching] call_cost_tokens`, by default BatchingConfig's)."""
    cost = BatchingConfig.call_cost_tokens if call_cost_tokens is None else call_cost_tokens
    return EmbedFunction(encoder, cost)


class EmbedFunction:
    """The embeddings batcher's model function (see `embed_function`)."""

    def __init__(self, encoder: Any, call_cost_tokens: int):
        self.encoder = encoder
        self.call_cost_tokens = call_cost_tokens
        self.limit = token_limit(encoder)
        self.token_ids = getattr(encoder.module, "token_ids", None)
        # a static encoder sums its tokens' vectors without padding: its batch runs whole
        self.buckets = self.token_ids is not None and getattr(encoder, "kind", None) != "static"

    def __call__(self, items: list[EmbedItem]) -> list[Any]:
        limit, token_ids = self.limit, self.token_ids
        texts = [item.text for item in items]
        # a text's token count is answered only when its request asks (or to check the limit)
        asked = [bool(item.count_tokens or (limit and not item.truncate)) for item in items]
        bucketed = self.buckets and len(items) > 1  # then every text's length is needed, for the buckets
        lengths: list[int | None] = [None] * len(items)
        wanted = [i for i in range(len(items)) if bucketed or asked[i]]
        if wanted and token_ids is not None:
            ids, _ = token_ids([texts[i] for i in wanted])
            for i, row in zip(wanted, ids, strict=True):
                lengths[i] = len(row)
        vectors = self._encode(texts, lengths) if bucketed else self._whole(texts)
        counts = [n if ask else None for n, ask in zip(lengths, asked, strict=True)]
        results: list[Any] = []
        for i, item in enumerate(items):
            # a row at the limit may have been cut (the tokenizer stops there): ask it about that text alone
            if (
                limit
                and not item.truncate
                and counts[i] is not None
                and counts[i] >= limit
                and token_ids(texts[i : i + 1])[1]
            ):
                results.append(ApiError(413, f"the text is longer than the model's limit of {limit} tokens; send "
                                             "truncate: true to cut it", code="text_too_long"))  # fmt: skip
                continue
            vector = vectors[i]
            if item.normalize:
                vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
            results.append((vector.astype(np.float32), counts[i] or 0))
        return results

    def _whole(self, texts: list[str]) -> np.ndarray:
        """Return the unnormalized vectors of `texts`, encoded as one batch (the encoder's own chunks)."""
        return self.encoder.encode(texts, batch_size=ENCODE_BATCH, normalize=False)

    def _encode(self, texts: list[str], lengths: list[int | None]) -> np.ndarray:
        """Return the unnormalized vectors of `texts` in their order, one padded forward pass per length
        bucket (`length_buckets` of the texts' token counts)."""
        vectors = np.empty((len(texts), self.encoder.dimension), dtype=np.float32)
        sizes = [int(n or 0) for n in lengths]
        for bucket in length_buckets(sizes, self.call_cost_tokens, ENCODE_BATCH):
            batch = [texts[i] for i in bucket]
            vectors[bucket] = self.encoder.encode(batch, batch_size=len(bucket), normalize=False)
        return vectors


# --- language detection and translation --------------------------------------------------------------------


@dataclass(frozen=True)
class DetectItem:
    text: str
    k: int = 3


def detect_function(
    detector: Any, languages: Sequence[str] | None = None
) -> Callable[[list[DetectItem]], list[Any]]:
    """Return the model function of /detect: the top-k Predictions of each text, among `languages` (the
    served translator's source languages) when given, each with its probability among all the detector's
    labels: renormalised over the served languages alone, a Croatian text came back Swedish at 97.7% (its
    probability among all labels: 0.0002%)."""

    def run(items: list[DetectItem]) -> list[Any]:
        k = max(item.k for item in items)
        texts = [item.text for item in items]
        predictions = detector.predict(texts, k=k, languages=languages)
        if languages is not None:  # the same ranking; the probabilities the whole model gives
            everything, _ = detector.probabilities(texts)
            column = {label: i for i, label in enumerate(detector.labels)}
            predictions = [[replace(p, probability=float(row[column[p.label]])) if p.label in column else p
                            for p in top] for top, row in zip(predictions, everything, strict=True)]  # fmt: skip
        return [top[: item.k] for item, top in zip(items, predictions, strict=True)]

    return run


@dataclass(frozen=True)
class SourceItem:
    text: str
    target: str
    """The language the text is to be translated into: a text already in it is no error (kept as it is)."""


def source_function(translator: Any, detector: Any) -> Callable[[list[SourceItem]], list[Any]]:
    """Return the model function of `source: auto`: (label or None for a text without letters, probability)
    per text, detected as `Translator.detect_sources` does (restricted to the model's source languages; a
    text already in its target language is named so, which a fixed-pair model does not translate from)."""

    def labels(items: list[SourceItem]) -> list[Any]:
        # one text a call when a batch fails (each_alone): the route names it (q[2]), so not "text 0" here
        return translator.detect_sources([item.text for item in items], name=lambda i: "text",
                                         source_hint='the "source" field', tgt=[item.target for item in items])  # fmt: skip

    def run(items: list[SourceItem]) -> list[Any]:
        found = each_alone(labels, items, (XlingError,))
        texts = [item.text for item in items]
        allowed = translator.allowed_sources(detector)
        # the confidence of the label chosen: under the same restriction to the model's sources, except for
        # a label outside it (the target language, found unrestricted)
        restricted, _ = detector.probabilities(texts, allowed)
        # the rows whose label lies outside the restriction (a text already in its target) are scored again
        # unrestricted, those rows only
        outside = [i for i, label in enumerate(found) if isinstance(label, str) and allowed is not None
                   and not any(label_matches(label, code) for code in allowed)]  # fmt: skip
        rows = dict(enumerate(restricted))
        if outside:
            rows.update(
                zip(outside, detector.probabilities([texts[i] for i in outside], None)[0], strict=True)
            )
        column = {label: i for i, label in enumerate(detector.labels)}
        results: list[Any] = []
        for i, label in enumerate(found):
            if isinstance(label, BaseException) or label is None:
                results.append(label if label is not None else (None, 0.0))
            else:
                results.append((label, float(rows[i][column[label]]) if label in column else 1.0))
        return results

    return run


@dataclass(frozen=True)
class TranslateItem:
    text: str
    source: str
    target: str
    hypotheses: int = 1
    """Translations wanted, best first (the beam's n best: LibreTranslate's `alternatives` + 1)."""


def translate_function(translator: Any, options: Any) -> Callable[[list[TranslateItem]], list[Any]]:
    """Return the model function of /translate: the distinct translations of each item, best first (each
    item with its own languages and number of translations)."""

    def translate(items: list[TranslateItem]) -> list[list[str]]:
        results: list[list[str]] = [[] for _ in items]
        wanted: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            wanted.setdefault(item.hypotheses, []).append(i)
        for n, indices in wanted.items():
            # n best from a beam of at least n (the server's beam otherwise)
            searched = replace(options, num_hypotheses=n, beam_size=max(options.beam_size, n))
            ranked = translator.translate_hypotheses(
                [items[i].text for i in indices], [items[i].source for i in indices],
                [items[i].target for i in indices], searched,
            )  # fmt: skip
            for i, hypotheses in zip(indices, ranked, strict=True):
                results[i] = hypotheses
        return results

    return lambda items: each_alone(translate, items, (XlingError,))


# --- search, classification, the bot -----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchItem:
    query: str
    k: int
    languages: tuple[str, ...] | None
    detected: tuple[str, ...] | None = None
    """Only documents whose detected label matches one of these codes (Index.search's `detected`)."""


def search_function(entry: IndexEntry) -> Callable[[list[SearchItem]], list[Any]]:
    """Return the model function of one index: every query of the batch encoded in one call, then searched; a
    query the library refuses (encoding or searching) gets its error in its place."""

    def encode(items: list[SearchItem]) -> list[Any]:
        return list(entry.encoder.encode([item.query for item in items], batch_size=ENCODE_BATCH))

    def run(items: list[SearchItem]) -> list[Any]:
        vectors = each_alone(encode, items, (XlingError,))
        results: list[Any] = []
        for item, vector in zip(items, vectors, strict=True):
            if isinstance(vector, BaseException):
                results.append(vector)
                continue
            try:
                results.append(entry.index.search(vector[None, :], item.k, item.languages, item.detected)[0])
            except XlingError as error:
                results.append(error)
        return results

    return run


@dataclass(frozen=True)
class ClassifyItem:
    text: str
    language: str | None = None


def classify_function(classifier: Any) -> Callable[[list[ClassifyItem]], list[Any]]:
    """Return the model function of /v1/classify: each text's label probabilities (one call per language)."""

    def run(items: list[ClassifyItem]) -> list[Any]:
        groups: dict[str | None, list[int]] = defaultdict(list)
        for i, item in enumerate(items):
            groups[item.language].append(i)
        results: list[Any] = [None] * len(items)
        for language, positions in groups.items():
            model = classifier
            if language is not None and hasattr(classifier, "for_language"):
                model = classifier.for_language(language)

            def probabilities(texts: list[str], model: Any = model) -> list[Any]:
                return list(np.asarray(model.predict_proba(texts), dtype=np.float64))

            rows = each_alone(probabilities, [items[i].text for i in positions], (XlingError,))
            for i, row in zip(positions, rows, strict=True):
                results[i] = row
        return results

    return run


@dataclass(frozen=True)
class Question:
    text: str
    language: str | None = None


def answer_function(bot: Any) -> Callable[[list[Question]], list[Any]]:
    """Return the model function of /v1/answer: the bot's answer to each question, as a dict (one encoder and
    one detector call for the whole batch)."""

    def answer(questions: list[Question]) -> list[Any]:
        langs = [q.language for q in questions]
        found = bot.answer_many([q.text for q in questions], langs if any(langs) else None)
        return [_as_dict(item) for item in found]

    return lambda questions: each_alone(answer, questions, (XlingError,))


def _as_dict(answer: Any) -> Any:
    return answer.to_dict() if hasattr(answer, "to_dict") else answer
