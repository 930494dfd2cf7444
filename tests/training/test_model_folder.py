"""Saving a model into its run's folder: staged, xling.json removed first and written last."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xling.training import model_folder
from xling.training.model_folder import save_model_folder


def _earlier_model(folder: Path) -> None:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "model.safetensors").write_text("old weights", encoding="utf-8")
    (folder / "xling.json").write_text(json.dumps({"steps": 1}), encoding="utf-8")


def _write_new(folder: Path) -> None:
    (folder / "model.safetensors").write_text("new weights", encoding="utf-8")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text("{}", encoding="utf-8")


def test_a_save_replaces_the_models_files_and_writes_xling_json_last(tmp_path):
    _earlier_model(tmp_path)
    (tmp_path / ".model.99999.tmp").mkdir()  # a save killed mid-write left its staging folder
    save_model_folder(tmp_path, _write_new, {"steps": 2})
    assert (tmp_path / "model.safetensors").read_text(encoding="utf-8") == "new weights"
    assert json.loads((tmp_path / "xling.json").read_text(encoding="utf-8")) == {"steps": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1_Pooling", "checkpoints", "model.safetensors",
                                                          "xling.json"]  # fmt: skip


def test_a_save_that_fails_leaves_the_earlier_model_as_it_was(tmp_path):
    _earlier_model(tmp_path)

    def fails(folder: Path) -> None:
        _write_new(folder)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_model_folder(tmp_path, fails, {"steps": 2})
    assert (tmp_path / "model.safetensors").read_text(encoding="utf-8") == "old weights"
    assert json.loads((tmp_path / "xling.json").read_text(encoding="utf-8")) == {"steps": 1}
    assert not list(tmp_path.glob(".model.*"))


def test_a_save_killed_before_its_metadata_leaves_no_earlier_metadata(tmp_path, monkeypatch):
    _earlier_model(tmp_path)

    def killed(folder, metadata):
        raise KeyboardInterrupt  # as a kill right after the files were renamed in

    monkeypatch.setattr(model_folder, "write_metadata", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model_folder(tmp_path, _write_new, {"steps": 2})
    assert (tmp_path / "model.safetensors").read_text(encoding="utf-8") == "new weights"
    assert not (tmp_path / "xling.json").exists()


def test_shards_of_an_earlier_save_do_not_outlive_a_single_file_save(tmp_path):
    _earlier_model(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                 "model.safetensors.index.json"):  # fmt: skip
        (tmp_path / name).write_text("old shard", encoding="utf-8")
    save_model_folder(tmp_path, _write_new, {"steps": 2})
    assert not list(tmp_path.glob("model-*")) and not (tmp_path / "model.safetensors.index.json").exists()


def test_another_familys_tokenizer_files_do_not_outlive_a_save_of_its_tokenizer(tmp_path):
    """NLLB's tokenizer.json stayed beside the M2M-100 model saved over it (--overwrite), for a tool reading
    the folder to take for the model's; a tokenizer of the same family saving fewer files (a fast one writes
    no sentencepiece.bpe.model) keeps the folder's."""
    _earlier_model(tmp_path)
    nllb = json.dumps({"tokenizer_class": "NllbTokenizer"})
    (tmp_path / "tokenizer_config.json").write_text(nllb, encoding="utf-8")
    for name in ("tokenizer.json", "sentencepiece.bpe.model"):
        (tmp_path / name).write_text("nllb", encoding="utf-8")

    def tokenizer(tokenizer_class: str, *files: str):
        def write(folder: Path) -> None:
            _write_new(folder)
            (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": tokenizer_class}),
                                                          encoding="utf-8")  # fmt: skip
            for name in files:
                (folder / name).write_text(tokenizer_class, encoding="utf-8")

        return write

    save_model_folder(tmp_path, tokenizer("NllbTokenizerFast", "tokenizer.json"), {"steps": 2})
    assert (tmp_path / "sentencepiece.bpe.model").read_text(encoding="utf-8") == "nllb"
    save_model_folder(tmp_path, _write_new, {"steps": 3})  # weights alone
    assert (tmp_path / "tokenizer.json").read_text(encoding="utf-8") == "NllbTokenizerFast"
    save_model_folder(tmp_path, tokenizer("M2M100Tokenizer", "vocab.json", "sentencepiece.bpe.model"),
                      {"steps": 4})  # fmt: skip
    assert not (tmp_path / "tokenizer.json").exists()
    assert all((tmp_path / name).read_text(encoding="utf-8") == "M2M100Tokenizer"
               for name in ("vocab.json", "sentencepiece.bpe.model"))  # fmt: skip


def test_an_earlier_pickle_save_and_a_file_in_a_folders_place_are_replaced(tmp_path):
    """An older save's pytorch_model.bin would outlive new safetensors (export fingerprints counted both);
    a file where the new save has a folder made os.replace fail after xling.json was gone."""
    _earlier_model(tmp_path)
    (tmp_path / "pytorch_model.bin").write_text("old pickle", encoding="utf-8")
    (tmp_path / "1_Pooling").write_text("a file where a folder goes", encoding="utf-8")
    save_model_folder(tmp_path, _write_new, {"steps": 2})
    assert not (tmp_path / "pytorch_model.bin").exists()
    assert (tmp_path / "1_Pooling" / "config.json").is_file()
    assert json.loads((tmp_path / "xling.json").read_text(encoding="utf-8")) == {"steps": 2}


def test_best_kept_by_copy_where_there_are_no_hard_links_says_so_once(tmp_path, monkeypatch, caplog):
    import logging
    import os

    from xling.training import checkpoint

    def no_links(*args):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(checkpoint, "_COPY_WARNED", [])
    source = tmp_path / "best"
    source.mkdir()
    (source / "model.safetensors").write_text("weights", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        checkpoint._link_files(source, tmp_path / "kept-1")
        checkpoint._link_files(source, tmp_path / "kept-2")
    assert (tmp_path / "kept-2" / "model.safetensors").read_text(encoding="utf-8") == "weights"
    assert caplog.text.count("no hard links here") == 1
