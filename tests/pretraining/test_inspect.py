"""fill-mask: guesses from a masked LM; a clear error for anything else (no folder, no trained LM head)."""

from __future__ import annotations

import json

import pytest

from xling.embeddings.weights import NOT_SAFETENSORS
from xling.errors import DataError, XlingError
from xling.pretraining.inspect import load_masked_lm, predict_masked


def test_fill_mask_on_a_masked_lm_guesses(make_tiny_mlm, tmp_path, sample_tokenizer_dir):
    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    guesses = predict_masked(folder, "Where is the <mask> station?", top_k=3)
    assert len(guesses) == 1 and len(guesses[0]) == 3
    # the model's own three best pieces at the mask, special tokens (<s>, language tokens) excluded
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("Where is the <mask> station?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, int((ids[0] == tokenizer.mask_token_id).nonzero()[0, 0])]
    ranked = [i for i in logits.argsort(descending=True).tolist() if i not in set(tokenizer.all_special_ids)]
    expected = [tokenizer.convert_ids_to_tokens(i).replace("\u2581", "") or "\u2581" for i in ranked[:3]]
    assert guesses[0] == expected
    # the command line quotes each guess: a guess may be "," or "|" itself
    from typer.testing import CliRunner

    from xling.cli import app

    shown = CliRunner().invoke(app, ["fill-mask", "--model", str(folder), "--top-k", "3",
                                     "Where is the <mask> station?"])  # fmt: skip
    assert shown.exit_code == 0 and " ".join(f"'{g}'" for g in expected) in shown.output


def test_missing_folder_is_a_clear_error_not_a_hub_lookup(tmp_path):
    with pytest.raises(XlingError, match="no such model folder"):
        load_masked_lm(tmp_path / "no-such-model")


def test_static_sentence_encoder_is_refused():
    with pytest.raises(DataError, match="without a masked-LM head .*static encoder such as xling-mini"):
        load_masked_lm("xling-mini")


def test_encoder_without_a_trained_lm_head_is_refused(make_tiny_mlm, tmp_path, sample_tokenizer_dir):
    """A base model (or a sentence encoder saved without its head) would guess from random weights."""
    from transformers import XLMRobertaModel

    from xling.tokenization.vocabulary import load_tokenizer

    mlm = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    base = tmp_path / "base"
    XLMRobertaModel.from_pretrained(mlm).save_pretrained(base)  # the encoder without lm_head.*
    load_tokenizer(sample_tokenizer_dir).save_pretrained(base)
    (base / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "x.Transformer"}])
    )
    with pytest.raises(DataError, match=r"no trained masked-LM head in this checkpoint \(missing lm_head\."):
        load_masked_lm(base)


def test_truncated_checkpoint_names_the_file(make_tiny_mlm, tmp_path, sample_tokenizer_dir):
    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # an interrupted copy
    with pytest.raises(DataError) as error:
        load_masked_lm(folder)
    assert str(error.value) == f"{weights}: {NOT_SAFETENSORS}"


def test_cli_fill_mask_raises_the_xling_error(tmp_path):
    from typer.testing import CliRunner

    from xling.cli import app

    result = CliRunner().invoke(app, ["fill-mask", "--model", "xling-mini", "Where is the <mask>?"])
    assert isinstance(result.exception, XlingError)  # main() prints it as one line, exit code 2
