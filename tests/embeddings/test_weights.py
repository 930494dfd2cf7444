"""Model weights: a damaged safetensors file or a missing folder is one line naming it, on every load path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from xling.embeddings.weights import check_safetensors, load_pretrained, load_safetensors
from xling.errors import DataError

MESSAGE = "not a readable safetensors file (truncated or corrupt?)"


def cut(path: Path, keep: int | None = None) -> None:
    """Cut a file to `keep` bytes (default: half), as an interrupted copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if keep is None else keep])


@pytest.mark.parametrize("keep", [None, 4, 0, 30])
def test_damaged_file_is_named(tmp_path, keep):
    path = tmp_path / "model.safetensors"
    save_file({"a": torch.ones(64, 64), "b": torch.zeros(3)}, str(path))
    check_safetensors(path)  # whole: fine
    assert load_safetensors(path)["a"].shape == (64, 64)
    cut(path, keep)
    for load in (check_safetensors, load_safetensors):
        with pytest.raises(DataError) as error:
            load(path)
        assert str(error.value) == f"{path}: {MESSAGE}"


def test_not_a_safetensors_file_is_named(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_text("<html>rate limited</html>")
    with pytest.raises(DataError, match="not a readable safetensors file"):
        load_safetensors(path)


def test_load_pretrained_names_the_damaged_file_missing_folder_and_config(
    make_tiny_mlm, tmp_path, sample_tokenizer_dir
):
    from transformers import XLMRobertaForMaskedLM

    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    assert load_pretrained(XLMRobertaForMaskedLM, folder).config.hidden_size == 16
    with pytest.raises(DataError, match="no such model folder"):
        load_pretrained(XLMRobertaForMaskedLM, tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"not a Hugging Face model folder \(no config.json\)"):
        load_pretrained(XLMRobertaForMaskedLM, tmp_path)
    cut(folder / "model.safetensors")
    with pytest.raises(DataError) as error:
        load_pretrained(XLMRobertaForMaskedLM, folder)
    assert str(error.value) == f"{folder / 'model.safetensors'}: {MESSAGE}"


def test_weights_of_other_shapes_than_the_config_are_named(make_tiny_mlm, tmp_path, sample_tokenizer_dir):
    import json

    from transformers import XLMRobertaForMaskedLM

    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    config = json.loads((folder / "config.json").read_text())  # another model's config.json copied over
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": 32, "intermediate_size": 64}))
    with pytest.raises(DataError, match="the folder mixes files of two models") as error:
        load_pretrained(XLMRobertaForMaskedLM, folder)
    assert str(error.value).startswith(str(folder))
    from xling.embeddings.encoder import Encoder

    with pytest.raises(DataError, match="the folder mixes files of two models"):  # through the encoder too
        Encoder.load(folder)
    # and with the dropout settings pretraining passes on (they change no shape)
    with pytest.raises(DataError, match="the folder mixes files of two models"):
        load_pretrained(
            XLMRobertaForMaskedLM, folder, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
        )


def test_pretrain_from_a_truncated_model_names_the_file(make_tiny_mlm, tmp_path, sample_tokenizer_dir):
    from xling.pretraining.pretrain import PretrainConfig, build_model
    from xling.tokenization.vocabulary import load_tokenizer

    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    cut(folder / "model.safetensors")
    with pytest.raises(DataError, match=f"model.safetensors: {MESSAGE.replace('(', '.').replace(')', '.')}"):
        # max_length within the tiny model's 40 positions: the position check comes before the weights load
        build_model(PretrainConfig(model=str(folder), max_length=32), load_tokenizer(sample_tokenizer_dir))


def test_a_static_folder_whose_files_do_not_fit_is_an_error_naming_the_file(tmp_path):
    """A damaged tokenizer.json, a table of the wrong shape and another model's small tokenizer were a raw
    tokenizers Exception, an AssertionError or a RuntimeError, or (the tokenizer) accepted silently."""
    import pytest
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, models

    from xling.embeddings.static import StaticSentenceEncoder
    from xling.errors import DataError

    def folder(name, tensors, vocab_size=20, tokenizer_text=None):
        root = tmp_path / name
        root.mkdir()
        save_file(tensors, str(root / "model.safetensors"))
        if tokenizer_text is not None:
            (root / "tokenizer.json").write_text(tokenizer_text, encoding="utf-8")
        else:
            vocab = {f"w{i}": i for i in range(vocab_size)}
            Tokenizer(models.WordLevel(vocab, unk_token="w0")).save(str(root / "tokenizer.json"))
        return root

    table = torch.randn(20, 4)
    with pytest.raises(DataError, match=r"tokenizer\.json: not a readable tokenizer"):
        StaticSentenceEncoder.load(
            folder("bad-json", {"embedding.weight": table}, tokenizer_text="{not json")
        )
    with pytest.raises(DataError, match=r"model\.safetensors: the embedding table has shape \(80,\)"):
        StaticSentenceEncoder.load(folder("flat", {"embedding.weight": table.flatten()}))
    with pytest.raises(DataError, match=r"model\.safetensors: weights of shape \(19,\) for 20 rows"):
        StaticSentenceEncoder.load(folder("scales", {"embeddings": table, "weights": torch.ones(19)}))
    with pytest.raises(
        DataError, match=r"tokenizer\.json: the tokenizer holds 5 tokens for 20 embedding rows"
    ):
        StaticSentenceEncoder.load(folder("small", {"embedding.weight": table}, vocab_size=5))
    assert StaticSentenceEncoder.load(folder("fine", {"embedding.weight": table})).dimension == 4
