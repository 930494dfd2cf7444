"""Look inside a masked LM: fill `<mask>` slots, mask a word of a sentence and see what the model guesses."""

from __future__ import annotations

from pathlib import Path

import torch

from xling.errors import ConfigError, DataError


def load_masked_lm(path: str | Path):
    """Return (model, tokenizer) of a masked-LM folder (or shipped name), model in eval mode.

    Raises XlingError for a missing folder, a sentence encoder with no masked-LM head (a static one such as
    xling-mini, or a transformer saved without its head, whose head transformers would fill with random
    weights) and a damaged weights file, each naming the folder or file.
    """
    from transformers import AutoModelForMaskedLM

    from xling.embeddings.encoder import resolve_model
    from xling.embeddings.weights import load_pretrained
    from xling.tokenization.vocabulary import load_tokenizer

    folder = resolve_model(path)
    if not (folder / "config.json").is_file():
        raise DataError(
            "a sentence encoder without a masked-LM head (no config.json: a static encoder such as "
            "xling-mini?); fill-mask needs a masked LM, such as the folder `xling pretrain` writes",
            folder,
        )
    model, info = load_pretrained(AutoModelForMaskedLM, folder, output_loading_info=True)
    missing = sorted(info.get("missing_keys", ()))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise DataError(
            f"no trained masked-LM head in this checkpoint (missing {shown}): a sentence encoder or base "
            "model, whose guesses would come from random weights; fill-mask needs a masked LM, such as the "
            "folder `xling pretrain` writes",
            folder,
        )
    model.eval()
    return model, load_tokenizer(folder)


@torch.inference_mode()
def predict_masked(model_or_path, text: str, top_k: int = 5, tokenizer=None) -> list[list[str]]:
    """Return, for each `<mask>` in `text`, the model's `top_k` token guesses (best first)."""
    check_top_k(top_k)
    if tokenizer is None:
        model, tokenizer = load_masked_lm(model_or_path)
    else:
        model = model_or_path
    return predict_ids(model, tokenizer, masked_ids(model, tokenizer, text), top_k)


def check_top_k(top_k: int) -> None:
    """Raise ConfigError when `top_k` is not a whole number >= 1."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"top_k must be a whole number >= 1, not {top_k!r}")


def masked_ids(model, tokenizer, text: str) -> torch.Tensor:
    """Return the ids of `text`, cut to the model's position limit; it must keep every mask.

    Raises ConfigError naming `text` when it has no mask token, DataError when the cut would drop one.
    """
    from xling.embeddings.transformer import position_limit

    mask = tokenizer.mask_token
    full = tokenizer(text)["input_ids"]
    wanted = full.count(tokenizer.mask_token_id)
    if not wanted:
        raise ConfigError(f"text {text!r} has no {mask} to fill; write {mask} where a word should be guessed")
    limit = position_limit(model)
    # a longer text would index past the position table; cut it as the tokenizer does (end token kept)
    input_ids = tokenizer(text, truncation=True, max_length=limit, return_tensors="pt")["input_ids"][0]
    if int((input_ids == tokenizer.mask_token_id).sum()) < wanted:
        raise DataError(
            f"text {text[:60]!r}{'...' if len(text) > 60 else ''}: a {mask} lies past the model's {limit}-token "
            f"limit ({len(full)} tokens); shorten the text so every {mask} is within its first {limit} tokens"
        )
    return input_ids


@torch.inference_mode()
def predict_ids(model, tokenizer, input_ids: torch.Tensor, top_k: int = 5) -> list[list[str]]:
    """Return the `top_k` guesses (as text pieces) at each `<mask>` id of one tokenized sequence.

    `top_k` above the number of ordinary tokens (special ones are never guessed) gives them all.
    """
    check_top_k(top_k)
    logits = model(input_ids=input_ids[None], attention_mask=torch.ones_like(input_ids)[None]).logits[0]
    positions = (input_ids == tokenizer.mask_token_id).nonzero().flatten()
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    # rows past the tokenizer's tokens (a vocabulary padded to a round size) are no token at all
    tokens = min(len(tokenizer), logits.shape[-1])
    top_k = min(top_k, tokens - len(special))  # beyond that, topk would fail or pick specials
    out = []
    for pos in positions:
        scores = logits[pos, :tokens].clone()
        scores[special] = float("-inf")  # a guess of <s> or a language token says nothing
        ids = scores.topk(top_k).indices.tolist()
        out.append([tokenizer.convert_ids_to_tokens(i).replace("\u2581", "") or "\u2581" for i in ids])
    return out


def mask_one_word(tokenizer, text: str) -> tuple[torch.Tensor, str, str] | None:
    """Return (input ids with one piece masked, the text shown with ___ there, the masked piece), or None.

    The masked piece is the longest word-initial piece away from the sentence ends (a content word, most
    often); None when the sentence is too short to have one.
    """
    input_ids = tokenizer(text, return_tensors="pt")["input_ids"][0]
    pieces = tokenizer.convert_ids_to_tokens(input_ids.tolist())
    candidates = [
        i for i in range(2, len(pieces) - 2) if pieces[i].startswith("\u2581") and len(pieces[i]) > 1
    ]
    if not candidates:
        candidates = list(range(2, len(pieces) - 2))
    if not candidates:
        return None
    best = max(candidates, key=lambda i: len(pieces[i]))
    masked = input_ids.clone()
    masked[best] = tokenizer.mask_token_id
    shown = (
        pieces[1:best] + ["\u2581___" if pieces[best].startswith("\u2581") else "___"] + pieces[best + 1 : -1]
    )
    display = tokenizer.convert_tokens_to_string(shown).strip()
    return masked, display, pieces[best].lstrip("\u2581")
