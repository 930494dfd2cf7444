"""The PyTorch translation backend: transformers' `generate` on token strings (the `TranslationBackend` protocol).

Each step is CTranslate2's (`CTranslate2Step`, a logits processor), so the two backends give the same
outputs, in beam search too: every example's target prefix is forced after the decoder start token, one
example's prefix per row, so one batch can translate into several languages (which the
`forced_bos_token_id` of transformers' generation config, one id for the whole call, cannot do) and a
hypothesis's length counts its prefix and `</s>`, as CTranslate2 divides by it. The output limit is always
given as `max_new_tokens` from the longest source of the batch (`DecodeOptions.max_new_tokens`) plus the
prefix, never the generation config's default `max_length` of 20 tokens; each example also stops at its own
source's limit (`SourceLimits`), so an output does not depend on the batch it was decoded in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xling.errors import DataError
from xling.translation.decoding import DecodeOptions, decode_in_prefix_batches

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


class GeneratedTokensPenalty:
    """A `generate` logits processor: CTRL's repetition penalty on the decoder tokens after its start token.

    transformers' own `repetition_penalty` penalises every decoder input id, the start token included, which
    is `</s>` for M2M-100, NLLB and xling's models: a penalised end token makes outputs run on. CTranslate2
    penalises the target prefix and the generated tokens only (`RepetitionPenalty::apply` in
    OpenNMT/CTranslate2 src/decoding_utils.cc: a score below 0 is multiplied by the penalty, any other
    divided by it), and so does this processor. CTranslate2 penalises the logits, before its log-softmax:
    `CTranslate2Step` hands it those, where transformers' beam search would hand it log-probabilities.
    """

    def __init__(self, penalty: float, start_tokens: int = 1):
        """Penalise by `penalty` the tokens after the first `start_tokens` decoder ids."""
        self.penalty = penalty
        self.start_tokens = start_tokens

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Return `scores` with the tokens already in each row of `input_ids` (past the start) penalised."""
        import torch

        previous = input_ids[:, self.start_tokens :]
        if previous.shape[1] == 0:
            return scores
        chosen = scores.gather(1, previous)
        chosen = torch.where(chosen < 0, chosen * self.penalty, chosen / self.penalty)
        return scores.scatter(1, previous, chosen)


class GeneratedNgramBlocker:
    """A `generate` logits processor: CTranslate2's `no_repeat_ngram_size` on the decoder tokens after its
    start token.

    transformers' own blocker counts the start token, `</s>` for M2M-100, NLLB and xling's models: with size
    1 it bans `</s>` from the first step on, and every output runs to its length limit. CTranslate2 blocks
    the n-grams of the target prefix and the generated tokens only, and so does this processor.
    """

    def __init__(self, size: int, start_tokens: int = 1):
        """Ban any n-gram of `size` tokens that the tokens after the first `start_tokens` already hold."""
        self.size = size
        self.start_tokens = start_tokens

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Return `scores` with each row's tokens that would repeat one of its n-grams set to -inf."""
        n = self.size
        for row, ids in enumerate(input_ids[:, self.start_tokens :].tolist()):
            if len(ids) < n:
                continue
            context = tuple(ids[len(ids) - n + 1 :]) if n > 1 else ()
            banned = {ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i : i + n - 1]) == context}
            if banned:
                scores[row, list(banned)] = float("-inf")
        return scores


class CTranslate2Step:
    """A `generate` logits processor that makes each step CTranslate2's (`beam_search` and
    `update_sample_with_prefix` in OpenNMT/CTranslate2 src/decoding.cc), for greedy and beam search alike.

    - The target prefix is forced, one example's per row (`prefixes[row // beam_size]`), with score 0: the
      decoder prompt is the start token alone, so the prefix counts in a hypothesis's length as in
      CTranslate2's (the prefix, the output and `</s>`), which the length penalty divides by.
    - Then, on the model's raw logits of the step (CTranslate2 processes logits, where transformers' beam
      search hands processors log-probabilities): the repetition penalty (`GeneratedTokensPenalty`) and the
      n-gram bans (`GeneratedNgramBlocker`), then the log-softmax.
    - At the first step after a prefix, `</s>` is left only where it is the best candidate; where it ranks
      2nd to beam_size-th its slot is a dead hypothesis for a step, as CTranslate2's guard against short
      hypotheses from secondary beams (its issue #277) leaves it.
    - Tokens that transformers' own processors banned (the checkpoint's generation config) stay banned.
    """

    def __init__(self, prefixes: torch.Tensor, beam_size: int, eos_id: int, options: DecodeOptions):
        """Force `prefixes` (batch x prefix length ids) with `beam_size` rows per example; the penalty and the
        n-gram size come from `options`."""
        self.prefixes = prefixes.repeat_interleave(beam_size, dim=0)
        self.beam_size = beam_size
        self.eos_id = eos_id
        self.dead: torch.Tensor | None = None  # per row: the token that holds a dead slot (-1: none)
        self.penalty = GeneratedTokensPenalty(options.repetition_penalty)
        self.blocker = GeneratedNgramBlocker(options.no_repeat_ngram_size)
        self.logits: torch.Tensor | None = None
        # generate calls the model in the thread that asked: another thread's translation on the same model
        # (a server's) fires this hook too, and its logits are not this search's
        self.thread = threading.get_ident()

    def keep_logits(self, module: Any, args: Any, output: Any) -> None:
        """A forward hook on the model: keep the last position's logits of its latest call in this thread."""
        if threading.get_ident() == self.thread:
            self.logits = output.logits[:, -1, :].float()

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Return the step's log-probabilities: the prefix token forced, else the processed logits'."""
        import torch

        step = input_ids.shape[1] - 1  # tokens after the decoder start token
        prefix_length = self.prefixes.shape[1]
        if step < prefix_length:
            forced = torch.full_like(scores, float("-inf"))
            return forced.scatter_(1, self.prefixes[:, step : step + 1].to(scores.device), 0.0)
        banned = torch.isneginf(scores)
        if self.penalty.penalty == 1.0 and not self.blocker.size and not banned.any():
            # nothing to do on the logits: beam search's scores are already their log-softmax (greedy search's
            # are the logits themselves, whose argmax is the same)
            log_probs = scores
        else:
            log_probs = self._processed(input_ids, banned)
        if prefix_length and step == prefix_length:
            self._dead_slot_for_eos(log_probs)
        elif self.dead is not None and step == prefix_length + 1:
            # the hypothesis that took </s>'s place: CTranslate2 scored it -1e10, so it never goes on
            log_probs[input_ids[:, -1] == self.dead] -= 1e10
        return log_probs

    def _dead_slot_for_eos(self, log_probs: torch.Tensor) -> None:
        """At the first step after the prefix, do to `log_probs` (in place) what CTranslate2 does to `</s>`
        when it is not the best candidate: ranked 2nd to beam_size-th, its slot becomes a dead hypothesis
        (id 0, score -1e10: one beam fewer for a step), so it is given to the row's worst token (`self.dead`,
        which no search would pick), killed at the next step; ranked lower, nothing changes. `</s>` itself is
        banned either way."""
        import torch

        eos = log_probs[:, self.eos_id : self.eos_id + 1]
        better = (log_probs > eos).sum(dim=-1)  # tokens ranked before </s>
        if self.beam_size > 1:
            rows = ((better >= 1) & (better < self.beam_size)).nonzero().flatten()
            self.dead = torch.full_like(better, -1)
            self.dead[rows] = log_probs[rows].argmin(dim=-1)
            log_probs[rows, self.dead[rows]] = log_probs[rows, self.eos_id]
        log_probs[better >= 1, self.eos_id] = float("-inf")

    def _processed(self, input_ids: torch.Tensor, banned: torch.Tensor) -> torch.Tensor:
        """Return the log-softmax of the step's logits after the penalty and the n-gram bans."""
        if self.logits is None or self.logits.shape != banned.shape:
            raise RuntimeError("CTranslate2Step: the model's logits of this step were not kept (keep_logits)")
        # what transformers' own processors banned stays banned (a checkpoint's suppress_tokens or bad_words_ids,
        # as Marian's ban of its pad token): they ran on `scores`, before this processor
        logits = self.logits.masked_fill(banned, float("-inf"))
        if self.penalty.penalty != 1.0:
            logits = self.penalty(input_ids, logits)
        if self.blocker.size:
            logits = self.blocker(input_ids, logits)
        return logits.log_softmax(dim=-1)


class SourceLimits:
    """A `generate` stopping criterion: each example's hypotheses end at its own output limit.

    A batch's `max_new_tokens` is its longest source's limit; a shorter source's hypotheses end at its own
    (`DecodeOptions.output_limit`), where transformers' `MaxLengthCriteria` would end them decoded alone:
    its beam search finishes every candidate this criterion marks, scored by the same length penalty, so a
    sentence gets under beam search what it gets alone, whatever the batch (a longer limit let another
    hypothesis win). Candidates come `rows // examples` to an example, in example order, as transformers'
    greedy and beam search give them. Exact while the search's early stop does not read the batch's max length
    (transformers' `early_stopping="never"` with a length penalty above 0, which `search_config` never sets).
    """

    def __init__(self, limits: list[int], prompt_length: int):
        """End example i's hypotheses once they hold `limits[i]` tokens after the `prompt_length` of the
        decoder prompt."""
        import torch

        self.lengths = torch.tensor(limits, dtype=torch.long) + prompt_length
        self.rows: torch.Tensor | None = None  # the limit of each row, once the row count is known

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        """Return, per row of `input_ids`, whether its example's limit is reached."""
        if self.rows is None or len(self.rows) != input_ids.shape[0]:
            per_example = input_ids.shape[0] // len(self.lengths)
            self.rows = self.lengths.to(input_ids.device).repeat_interleave(per_example)
        return input_ids.shape[1] >= self.rows


def clear_forced_tokens(model: Any) -> None:
    """Clear the checkpoint's forced first and last tokens and max_length on `model`'s own generation config.

    The decoder prompt carries the target token, so M2M-100's / NLLB's `forced_bos_token_id` would change the
    output, and OPUS-MT's `forced_eos_token_id` would spend the last allowed token on `</s>` where CTranslate2
    does not. Cleared on the model's config because generate fills a setting a call leaves at its default
    (None included) from it, so a None passed with the call would not stick.
    """
    model.generation_config.forced_bos_token_id = None
    model.generation_config.forced_eos_token_id = None
    # every call gives max_new_tokens: a checkpoint's max_length (256 in xling's) would only make generate
    # warn on each call that both are set
    model.generation_config.max_length = None


def search_config(
    model: Any,
    options: DecodeOptions,
    max_new_tokens: int,
    *,
    pad_id: int | None = None,
    eos_id: int | None = None,
    start_id: int | None = None,
) -> Any:
    """Return a copy of `model`'s generation config with every search setting taken from `options`.

    `max_length` and `min_new_tokens` are cleared so that only `max_new_tokens` limits the output (a None
    passed as a keyword would be filled from the checkpoint's config). Token ids left None keep the
    checkpoint's.
    """
    config = model.generation_config.__class__.from_dict(model.generation_config.to_dict())
    config.update(
        max_new_tokens=max_new_tokens,
        max_length=None,
        min_length=0,
        min_new_tokens=None,
        num_beams=options.beam_size,
        num_return_sequences=options.num_hypotheses,
        do_sample=False,
        length_penalty=options.length_penalty,
        no_repeat_ngram_size=options.no_repeat_ngram_size,
        repetition_penalty=options.repetition_penalty,
        # CTranslate2 stops at beam_size finished hypotheses, or without a length penalty only once the best
        # candidate has finished: what transformers' "never" (no early stop while a better one may come) gives
        early_stopping=("never" if options.length_penalty == 0 else True) if options.beam_size > 1 else False,
    )
    ids = {"pad_token_id": pad_id, "eos_token_id": eos_id, "decoder_start_token_id": start_id}
    config.update(**{key: value for key, value in ids.items() if value is not None})
    return config


class TorchBackend:
    """A Hugging Face seq2seq model folder (M2M-100, NLLB, Marian, xling) decoded with `generate`."""

    def __init__(self, folder: str | Path, *, device: str = "cpu", threads: int = 0, tokenizer: Any = None):
        """Load the model in `folder` in eval mode on `device`; `threads` > 0 sets torch's intra-op threads
        (for the whole process: torch has one pool). `tokenizer` maps token strings to ids (loaded from the
        folder when not given)."""
        import torch
        from transformers import AutoModelForSeq2SeqLM

        from xling.embeddings.weights import load_pretrained
        from xling.tokenization.vocabulary import load_folder_tokenizer

        self.folder = Path(folder)
        if threads > 0:
            torch.set_num_threads(threads)
        if not any(self.folder.glob("*.safetensors")) and not any(self.folder.glob("*.bin")):
            raise DataError("no PyTorch weights here (model.safetensors)", self.folder)
        self.device = torch.device(device)
        # transformers 5 loads in the checkpoint's own dtype; a half-precision one would decode slowly and
        # differently on CPU (export and training compare and train in float32)
        on_cpu = {"dtype": torch.float32} if self.device.type == "cpu" else {}
        self.model = load_pretrained(AutoModelForSeq2SeqLM, self.folder, **on_cpu).to(self.device).eval()
        if tokenizer is None:
            tokenizer = load_folder_tokenizer(self.folder)
        self.tokenizer = tokenizer
        config = self.model.config
        self.pad_id = _first_id(config.pad_token_id, tokenizer.pad_token_id)
        self.eos_id = _first_id(config.eos_token_id, tokenizer.eos_token_id)
        self.start_id = _first_id(config.decoder_start_token_id, getattr(self.model.generation_config,
                                                                         "decoder_start_token_id", None))  # fmt: skip
        if self.pad_id is None or self.eos_id is None or self.start_id is None:
            raise DataError("config.json lacks pad, eos or decoder start token ids", self.folder)
        clear_forced_tokens(self.model)

    def generate(
        self, sources: list[list[str]], target_prefixes: list[list[str]], options: DecodeOptions
    ) -> list[list[str]]:
        """Return, per source, the output token strings without the target prefix and `</s>` (the best
        hypothesis: `generate_hypotheses` gives the others)."""
        return [outputs[0] for outputs in self.generate_hypotheses(sources, target_prefixes, options)]

    def generate_hypotheses(
        self, sources: list[list[str]], target_prefixes: list[list[str]], options: DecodeOptions
    ) -> list[list[list[str]]]:
        """Return, per source, its `options.num_hypotheses` best outputs (best first), each as token strings
        without the target prefix and `</s>`."""
        if len(sources) != len(target_prefixes):
            raise ValueError(f"{len(sources)} sources but {len(target_prefixes)} target prefixes")
        # decoder prompts of one generate call must have one length (no left padding in a decoder); batches by
        # source length, as the CTranslate2 backend's (little padding)
        return decode_in_prefix_batches(
            sources, target_prefixes, options.batch_size,
            lambda batch, prefixes: self._generate(batch, prefixes, options),
            order=sorted(range(len(sources)), key=lambda i: len(sources[i])),
        )  # fmt: skip

    def _generate(
        self, sources: Sequence[list[str]], prefixes: Sequence[list[str]], options: DecodeOptions
    ) -> list[list[list[str]]]:
        """Return the hypotheses of one batch whose target prefixes all have the same length."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        # as CTranslate2's max_input_length: a source beyond the limit is cut (the Translator never sends one)
        ids = [self._ids(tokens)[: options.max_input_length] for tokens in sources]
        width = max(len(row) for row in ids)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            attention_mask[row, : len(tokens)] = 1
        # one prefix length per batch (decode_in_prefix_batches); (batch, 0) when the examples have none
        prefix_ids = torch.tensor([self._ids(prefix) for prefix in prefixes], dtype=torch.long)
        decoder_input_ids = torch.full((len(ids), 1), self.start_id, dtype=torch.long)
        limits = [options.output_limit(row) + prefix_ids.shape[1] for row in ids]
        max_new_tokens = max(limits)
        config = search_config(self.model, options, max_new_tokens, pad_id=self.pad_id, eos_id=self.eos_id,
                               start_id=self.start_id)  # fmt: skip
        config.repetition_penalty, config.no_repeat_ngram_size = 1.0, 0  # CTranslate2's, in the step below
        step = CTranslate2Step(prefix_ids, options.beam_size, self.eos_id, options)
        hook = self.model.register_forward_hook(step.keep_logits)
        try:
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=input_ids.to(self.device),
                    attention_mask=attention_mask.to(self.device),
                    decoder_input_ids=decoder_input_ids.to(self.device),
                    generation_config=config,
                    logits_processor=LogitsProcessorList([step]),
                    stopping_criteria=StoppingCriteriaList([SourceLimits(limits, prompt_length=1)]),
                )
        finally:
            hook.remove()
        prompt = 1 + prefix_ids.shape[1]
        rows = [self._tokens(row[prompt:].tolist()) for row in generated.cpu()]
        n = options.num_hypotheses  # generate gives each source's n best one after the other
        return [rows[i : i + n] for i in range(0, len(rows), n)]

    def _ids(self, tokens: Sequence[str]) -> list[int]:
        """Return the ids of token strings (a token outside the vocabulary is the unknown token's id)."""
        return list(self.tokenizer.convert_tokens_to_ids(list(tokens)))

    def _tokens(self, ids: list[int]) -> list[str]:
        """Return the token strings of one output, up to its first `</s>`, without padding."""
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return list(self.tokenizer.convert_ids_to_tokens([i for i in ids if i != self.pad_id]))


def _first_id(*values: Any) -> int | None:
    """Return the first of `values` that is an id (an int, or the first of a list of ids)."""
    for value in values:
        if isinstance(value, list | tuple) and value:
            value = value[0]
        if isinstance(value, int):
            return value
    return None
