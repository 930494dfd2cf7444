"""The CTranslate2 runtime of a translation model: `CT2Backend`, a `TranslationBackend` over
`ctranslate2.Translator`.

It runs the conversion `xling export ct2` writes (`<model>/ctranslate2/`, `xling.export.ct2`). Inputs and
outputs are token strings, as in CTranslate2's own API: the caller builds each source with its family's
conventions, and the target prefix (e.g. `["__deu__"]`) carries the target language, one per example, so a
batch may mix target languages. The decoder start token is the one the converter recorded from the model
config (`</s>` for M2M-100/NLLB/xling, a zero embedding for Marian), as in transformers' `generate`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from xling.errors import ConfigError, DataError
from xling.export.ct2 import CT2_DIR
from xling.translation.decoding import MAX_THREADS, DecodeOptions, decode_in_prefix_batches

logger = logging.getLogger(__name__)

COMPUTE_TYPES = (
    "default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16",
    "float32",
)  # fmt: skip
"""`compute_type` values of ctranslate2.Translator ("default": the type the model was converted to)."""
DEVICES = ("cpu", "cuda", "auto")


def ct2_device(device: str) -> tuple[str, int]:
    """Return CTranslate2's (device, device_index) for a device name: cpu, auto, cuda or cuda:N (as torch
    names it, which the Translator accepts); ConfigError otherwise."""
    name, _, index = device.partition(":") if isinstance(device, str) else ("", "", "")
    if name not in DEVICES or (index and (name != "cuda" or not index.isascii() or not index.isdigit())):
        raise ConfigError(f"device: {device!r} is not one of {', '.join(DEVICES)} or cuda:N")
    return name, int(index or 0)


class CT2Backend:
    """A CTranslate2 model loaded for decoding (a `xling.translation.decoding.TranslationBackend`)."""

    def __init__(
        self, folder: str | Path, *, device: str = "cpu", threads: int = 0, compute_type: str | None = None
    ):
        """Load the CTranslate2 model in `folder` (a conversion folder, or a model folder holding one).

        `threads` is CTranslate2's intra_threads (0: its default); `compute_type` None keeps the type the
        model was converted with (one of COMPUTE_TYPES otherwise).
        """
        import ctranslate2

        path = Path(folder)
        if not (path / "model.bin").is_file() and (path / CT2_DIR / "model.bin").is_file():
            path = path / CT2_DIR
        if not (path / "model.bin").is_file():
            raise DataError(
                "no CTranslate2 model here (model.bin missing); make one with `xling export ct2`", path
            )
        device, index = ct2_device(device)
        if compute_type is not None and compute_type not in COMPUTE_TYPES:
            raise ConfigError(f"compute_type: {compute_type!r} is not one of {', '.join(COMPUTE_TYPES)}")
        if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= MAX_THREADS:
            raise ConfigError(
                f"threads: {threads!r} must be 0 (CTranslate2's default) or a whole number up to {MAX_THREADS}"
            )
        self.folder = path
        self.device = device
        self.compute_type = compute_type or "default"
        self.translator = ctranslate2.Translator(
            str(path),
            device=device,
            device_index=index,
            compute_type=self.compute_type,
            intra_threads=threads,
        )

    def generate(
        self, sources: list[list[str]], target_prefixes: list[list[str]], options: DecodeOptions
    ) -> list[list[str]]:
        """Return, per source, the output token strings without the target prefix and the final `</s>`
        (the best hypothesis: `generate_hypotheses` gives the others)."""
        return [outputs[0] for outputs in self.generate_hypotheses(sources, target_prefixes, options)]

    def generate_hypotheses(
        self, sources: list[list[str]], target_prefixes: list[list[str]], options: DecodeOptions
    ) -> list[list[list[str]]]:
        """Return, per source, its `options.num_hypotheses` best outputs (best first), each as token strings
        without the target prefix and the final `</s>`.

        Sources are decoded in batches of `options.batch_size` sentences of similar length (and prefixes of
        one length); each output holds at most `options.max_new_tokens` of its own (cut) source after the
        prefix, as the PyTorch path's, so the two paths stop at the same length.
        """
        options.validate()
        if len(sources) != len(target_prefixes):
            raise ConfigError(f"{len(sources)} sources but {len(target_prefixes)} target prefixes")
        for i, source in enumerate(sources):
            if not source:
                raise DataError(f"source {i} is empty (it needs at least the end token)")
        # a batch shares one max_decoding_length, which counts the prefix: so one prefix length per batch
        return decode_in_prefix_batches(
            sources, target_prefixes, options.batch_size,
            lambda batch, prefixes: self._decode(batch, prefixes, options),
            order=sorted(range(len(sources)), key=lambda i: len(sources[i])),
        )  # fmt: skip

    def _decode(
        self, sources: list[list[str]], prefixes: list[list[str]], options: DecodeOptions
    ) -> list[list[list[str]]]:
        """Return the hypotheses of one batch, prefix removed, each within its own source's limit.

        CTranslate2 takes one `max_decoding_length` a batch: the batch is decoded to its longest source's
        limit. For greedy search the tokens up to a sentence's own limit are those it gets alone. Under beam
        search a longer limit can let another hypothesis win, which cut to the sentence's limit is not its
        translation alone (`Pray without ceasing.` came out otherwise beside a long sentence): a sentence
        with a hypothesis that reached its limit below the batch's (alone, it would have been ended there
        without `</s>`) is decoded again with its own limit (with the others of that limit), as the PyTorch
        path's `SourceLimits` ends it. Left (CTranslate2 takes no limit per example, and batches of one limit
        would be small ones): a sentence whose search, alone, would end at its limit on an unfinished
        hypothesis that outscores its finished ones may keep the batch's shorter finished one (a reviewer's
        sweep on a tiny random model, limits of 5 tokens: 4 of 288 sentences).
        """
        limits = [options.output_limit(source) for source in sources]
        longest = max(limits)
        rows = self._translate(sources, prefixes, options, longest)
        if options.beam_size > 1:
            over: dict[int, list[int]] = defaultdict(list)
            for i, (ranked, limit) in enumerate(zip(rows, limits, strict=True)):
                if limit < longest and any(len(row) >= limit for row in ranked):
                    over[limit].append(i)
            for limit, group in over.items():
                again = self._translate(
                    [sources[i] for i in group], [prefixes[i] for i in group], options, limit
                )
                for i, ranked in zip(group, again, strict=True):
                    rows[i] = ranked
        return [[row[:limit] for row in ranked] for ranked, limit in zip(rows, limits, strict=True)]

    def _translate(
        self, sources: list[list[str]], prefixes: list[list[str]], options: DecodeOptions, limit: int
    ) -> list[list[list[str]]]:
        """Return the hypotheses of one batch decoded to `limit` tokens after the prefix, prefix removed
        (translate_batch leaves out `</s>` itself)."""
        results = self.translator.translate_batch(
            sources,
            target_prefix=[list(p) for p in prefixes] if any(prefixes) else None,
            beam_size=options.beam_size,
            num_hypotheses=options.num_hypotheses,
            length_penalty=options.length_penalty,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            repetition_penalty=options.repetition_penalty,
            # it counts the target prefix too (CTranslate2 returns it inside the hypothesis)
            max_decoding_length=limit + len(prefixes[0]),
            # CTranslate2's default (1) bans </s> as the first token of a model without a target prefix
            # (Marian); generate() is given min_length 0, and both backends must decode alike
            min_decoding_length=0,
            max_input_length=options.max_input_length,
            max_batch_size=0,
        )
        return [
            [tokens[len(prefix) :] if tokens[: len(prefix)] == list(prefix) else tokens
             for tokens in result.hypotheses]
            for result, prefix in zip(results, prefixes, strict=True)
        ]  # fmt: skip
