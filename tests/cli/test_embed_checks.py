"""`xling embed`: a bad --output or --input is reported before the model loads; truncation is a log line."""

from __future__ import annotations

import logging
import warnings

import pytest
from typer.testing import CliRunner

from xling.cli import app
from xling.errors import ConfigError, DataError

runner = CliRunner()


@pytest.fixture
def texts(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("Where is the station?\nWo ist der Bahnhof?\n", encoding="utf-8")
    return path


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the command gets as far as loading a model."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the paths were checked")

    monkeypatch.setattr("xling.cli.embed.load_encoder", refuse)


def test_bad_output_suffix_is_reported_before_the_model_loads(tmp_path, texts, no_model_load):
    result = runner.invoke(app, ["embed", "--model", "xling-mini", "--input", str(texts), "--output",
                                 str(tmp_path / "vectors.txt")])  # fmt: skip
    assert isinstance(result.exception, ConfigError) and "must end in .npy or .fvecs" in str(result.exception)


def test_unwritable_output_is_reported_before_the_model_loads(tmp_path, texts, no_model_load):
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["embed", "--model", "xling-mini", "--input", str(texts), "--output",
                                 str(tmp_path / "file" / "vectors.npy")])  # fmt: skip
    assert isinstance(result.exception, DataError) and "is a file" in str(result.exception)


def test_missing_input_is_reported_before_the_model_loads(tmp_path, no_model_load):
    result = runner.invoke(app, ["embed", "--model", "xling-mini", "--input", str(tmp_path / "none.txt"),
                                 "--output", str(tmp_path / "vectors.npy")])  # fmt: skip
    assert isinstance(result.exception, DataError) and "none.txt: file not found" in str(result.exception)


def test_truncation_notice_is_logged_not_a_user_warning(tmp_path, sample_tokenizer_dir, caplog, monkeypatch):
    from xling.embeddings.encoder import Encoder
    from xling.embeddings.transformer import TransformerSentenceEncoder

    monkeypatch.setattr(logging.getLogger("xling"), "propagate", True)  # a CLI test may have turned it off
    monkeypatch.setattr(
        "xling.cli.embed.load_encoder", lambda model, **options: Encoder.load(model, **options)
    )
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

    tokenizer = AutoTokenizer.from_pretrained(sample_tokenizer_dir)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=40, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    TransformerSentenceEncoder(XLMRobertaModel(config), tokenizer, max_length=16).save(tmp_path / "model")
    (tmp_path / "long.txt").write_text(
        "Where is the train station, please? " * 20 + "\nok\n", encoding="utf-8"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = runner.invoke(app, ["embed", "--model", str(tmp_path / "model"), "--input", str(tmp_path / "long.txt"),
                                     "--output", str(tmp_path / "v.npy")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 of 2 texts were cut to the 16-token limit" in caplog.text


def test_an_upper_case_suffix_is_the_format_it_names(tmp_path, texts):
    result = runner.invoke(app, ["embed", "--model", "xling-mini", "--input", str(texts), "--output",
                                 str(tmp_path / "vectors.NPY")])  # fmt: skip
    assert result.exit_code == 0, result.output
    import numpy as np

    assert np.load(tmp_path / "vectors.NPY").shape == (2, 256)


def test_mine_reports_a_missing_input_before_the_model_loads(tmp_path, texts, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the paths were checked")

    monkeypatch.setattr("xling.cli.mine.load_encoder", refuse)
    result = runner.invoke(app, ["mine", str(tmp_path / "nope.txt"), str(texts), "--output",
                                 str(tmp_path / "pairs.tsv")])  # fmt: skip
    assert isinstance(result.exception, DataError) and "nope.txt" in str(result.exception)
