"""`xling export ct2`: each family converts with its vocabulary aligned (scores equal transformers'), the
record of what was converted, atomic replacement, and clear refusals."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from xling.cli import app, main
from xling.errors import ConfigError, DataError, XlingError
from xling.export.ct2 import CT2_KIND, export_ct2, has_ct2

TINY_MODELS = Path(__file__).resolve().parents[1] / "translation" / "tiny_models.py"


def _tiny_models():
    """Return tests/translation/tiny_models.py as a module (this folder is not a package)."""
    name = "xling_tests_tiny_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TINY_MODELS)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# family -> (builder, source language token, target prefix)
FAMILIES = {
    "xling": (lambda p: _tiny_models().build_xling(p), ["__eng__"], ["__deu__"]),
    "m2m100": (lambda p: _tiny_models().build_m2m100(p), ["__en__"], ["__de__"]),
    "nllb": (lambda p: _tiny_models().build_nllb(p), ["eng_Latn"], ["deu_Latn"]),
    "marian": (lambda p: _tiny_models().build_marian(p), [], []),
    "marian-multi": (lambda p: _tiny_models().build_marian(p, target_tokens=("fra", "deu")), [">>deu<<"], []),
}


def _pieces(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False).input_ids)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_float32_conversion_scores_like_transformers(tmp_path, family):
    """Per-token log-probabilities of reference translations, CTranslate2 vs the PyTorch model: equal."""
    import ctranslate2
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    build, source_token, prefix = FAMILIES[family]
    folder = build(tmp_path / family)
    report = export_ct2(folder, quantization="float32")
    assert report.output == folder / "ctranslate2" and has_ct2(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    parallel = _tiny_models().PARALLEL
    sources = [[*source_token, *_pieces(tokenizer, t), tokenizer.eos_token] for t in parallel["eng"][:4]]
    targets = [[*prefix, *_pieces(tokenizer, t)] for t in parallel["deu"][:4]]
    scored = ctranslate2.Translator(str(report.output)).score_batch(sources, targets)
    for source, target, result in zip(sources, targets, scored, strict=True):
        labels = tokenizer.convert_tokens_to_ids([*target, tokenizer.eos_token])
        decoder_inputs = torch.tensor([[model.config.decoder_start_token_id, *labels[:-1]]])
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([tokenizer.convert_tokens_to_ids(source)]),
                           decoder_input_ids=decoder_inputs).logits[0]  # fmt: skip
        if model.config.model_type == "marian":
            # CTranslate2 drops Marian's <pad> (the last id: the decoder start, never an output) from the
            # vocabulary, so its softmax runs over the other tokens
            logits = logits[:, : model.config.pad_token_id]
        expected = logits.log_softmax(-1)[torch.arange(len(labels)), torch.tensor(labels)]
        assert torch.allclose(torch.tensor(result.log_probs), expected, atol=1e-4)


def test_m2m100_language_tokens_keep_their_tokenizer_ids(tmp_path):
    from transformers import M2M100Tokenizer

    folder = _tiny_models().build_m2m100(tmp_path / "m2m100")
    export_ct2(folder, quantization="float32")
    vocabulary = json.loads((folder / "ctranslate2" / "shared_vocabulary.json").read_text(encoding="utf-8"))
    tokenizer = M2M100Tokenizer.from_pretrained(folder)
    assert len(vocabulary) == json.loads((folder / "config.json").read_text())["vocab_size"]
    for token in ("__en__", "__de__", "__zu__"):
        assert vocabulary[tokenizer.convert_tokens_to_ids(token)] == token


def test_export_records_its_source_and_quantization(tmp_path):
    folder = _tiny_models().build_xling(tmp_path / "model")
    report = export_ct2(folder)  # int8 by default
    meta = json.loads((folder / "ctranslate2" / "xling.json").read_text(encoding="utf-8"))
    assert meta["kind"] == CT2_KIND and meta["quantization"] == report.quantization == "int8"
    assert meta["model_type"] == "m2m_100" and meta["family"] == "xling"
    assert meta["source"] == str(folder.resolve())
    weights = (folder / "model.safetensors").read_bytes()
    assert meta["source_files"]["model.safetensors"] == {
        "bytes": len(weights),
        "mtime_ns": (folder / "model.safetensors").stat().st_mtime_ns,
        "sha256": hashlib.sha256(weights).hexdigest(),
    }
    assert meta["check"]["max_logprob_difference"] == report.max_logprob_difference > 0  # int8 rounds
    float32 = export_ct2(folder, tmp_path / "float32", quantization="float32")
    assert float32.max_logprob_difference < 1e-4 < report.max_logprob_difference
    assert (report.output / "model.bin").stat().st_size < (float32.output / "model.bin").stat().st_size


def test_the_record_tells_a_stale_conversion_sharded_weights_included(tmp_path, monkeypatch):
    from transformers import AutoModelForSeq2SeqLM

    from xling.export.ct2 import stale_conversion

    folder = _tiny_models().build_xling(tmp_path / "model")
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    model.save_pretrained(folder, max_shard_size="20KB")  # a sharded checkpoint, as large models are saved
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert len(shards) > 1
    export_ct2(folder)
    recorded = json.loads((folder / "ctranslate2" / "xling.json").read_text())["source_files"]
    assert sorted(recorded) == sorted(["config.json", "model.safetensors.index.json", *shards])
    assert stale_conversion(folder) is None
    import os

    from xling.export import ct2 as ct2_module

    def no_reading(path):
        raise AssertionError(f"{path} was hashed")

    with (
        monkeypatch.context() as patch
    ):  # files of the recorded size and modification time are not read again
        patch.setattr(ct2_module, "_sha256", no_reading)
        assert stale_conversion(folder) is None
    last = folder / shards[-1]
    os.utime(last, ns=(last.stat().st_atime_ns, last.stat().st_mtime_ns + 10**9))  # touched, not changed
    assert stale_conversion(folder) is None  # hashed this time, and still the same
    data = bytearray(last.read_bytes())
    data[-1] ^= 1  # one bit of a weight: the index and the sizes stay the same
    last.write_bytes(bytes(data))
    assert stale_conversion(folder) == f"{shards[-1]} has changed since the export (its SHA-256 differs)"
    model.save_pretrained(folder)  # now one model.safetensors beside the shards
    assert stale_conversion(folder).startswith("its weights are now model.safetensors")


def test_sharded_bin_weights_are_recorded_and_a_changed_shard_makes_the_conversion_stale(tmp_path):
    # older Hub uploads: pytorch_model-0000k-of-0000n.bin beside pytorch_model.bin.index.json
    from xling.export.ct2 import stale_conversion

    folder = _tiny_models().build_xling(tmp_path / "model")
    shards = _tiny_models().shard_as_pickles(folder)
    export_ct2(folder)
    recorded = json.loads((folder / "ctranslate2" / "xling.json").read_text())["source_files"]
    assert sorted(recorded) == sorted(["config.json", "pytorch_model.bin.index.json", *shards])
    assert stale_conversion(folder) is None
    # a conversion recorded before the .bin index was (config.json alone) is not stale for leaving it out
    record_file = folder / "ctranslate2" / "xling.json"
    meta = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**meta, "source_files": {"config.json": recorded["config.json"]}}))
    assert stale_conversion(folder) is None
    record_file.write_text(json.dumps(meta))
    last = folder / "pytorch_model-00002-of-00002.bin"
    import torch

    shard = torch.load(last, weights_only=True)
    torch.save({key: value + 1 for key, value in shard.items()}, last)
    assert stale_conversion(folder).startswith(
        "pytorch_model-00002-of-00002.bin has changed since the export"
    )


def test_a_changed_config_makes_the_conversion_stale(tmp_path):
    """A conversion is made from the config too (decoder start token, vocabulary size): a config.json
    edited or copied in since the export makes it stale, as new weights do."""
    from xling.export.ct2 import stale_conversion

    folder = _tiny_models().build_xling(tmp_path / "model")
    export_ct2(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "decoder_start_token_id": 0}), encoding="utf-8")
    assert stale_conversion(folder) == "config.json has changed since the export (its size differs)"


def test_weights_saved_during_the_conversion_are_not_recorded_as_converted(tmp_path, monkeypatch):
    """The fingerprints were taken after the conversion: a training run saving into the folder meanwhile was
    recorded as what model.bin holds, and the conversion was never found stale."""
    import xling.export.ct2 as ct2

    folder = _tiny_models().build_xling(tmp_path / "model")
    convert = ct2._convert

    def saved_meanwhile(source, staging, quantization):
        tokenizer = convert(source, staging, quantization)
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "dropout": 0.25}), encoding="utf-8")
        return tokenizer

    monkeypatch.setattr(ct2, "_convert", saved_meanwhile)
    with pytest.raises(XlingError, match=r"changed while it was converted \(config.json has changed"):
        export_ct2(folder)
    assert not ct2.ct2_folder(folder).exists()  # nothing written


def test_a_float32_conversion_that_scores_differently_is_not_written(tmp_path, monkeypatch):
    import xling.export.ct2 as ct2

    folder = _tiny_models().build_xling(tmp_path / "model")
    monkeypatch.setattr(ct2, "_compare_scores", lambda *args: [0.0, 0.5])
    with pytest.raises(XlingError, match="does not reproduce the PyTorch model"):
        export_ct2(folder, quantization="float32")
    assert not (folder / "ctranslate2").exists()
    assert export_ct2(folder, quantization="int8").max_logprob_difference == 0.5  # int8: reported only


def test_reexport_replaces_the_conversion_atomically(tmp_path, monkeypatch):
    import xling.export.ct2 as ct2

    folder = _tiny_models().build_xling(tmp_path / "model")
    export_ct2(folder, quantization="float32")
    export_ct2(folder, quantization="int8")  # an earlier conversion is replaced without asking
    target = folder / "ctranslate2"
    assert json.loads((target / "xling.json").read_text())["quantization"] == "int8"
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(source: Path, folder: Path, *args) -> list[float]:
        assert (folder / "model.bin").is_file()  # the new model was written, beside the old one
        raise XlingError("simulated failure after conversion")

    monkeypatch.setattr(ct2, "_compare_scores", broken)
    with pytest.raises(XlingError, match="simulated"):
        export_ct2(folder, quantization="float32")
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_a_folder_of_other_files_is_never_replaced_and_another_conversion_only_with_overwrite(tmp_path):
    folder = _tiny_models().build_xling(tmp_path / "model")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(XlingError, match="holds files that are not a CTranslate2 model"):
            export_ct2(folder, other, overwrite=overwrite)
    assert (other / "notes.txt").read_text() == "keep me"
    # a conversion of another model: replaced only when asked
    second = _tiny_models().build_xling(tmp_path / "second")
    export_ct2(second, tmp_path / "elsewhere")
    with pytest.raises(XlingError, match="a CTranslate2 model is already there"):
        export_ct2(folder, tmp_path / "elsewhere")
    export_ct2(folder, tmp_path / "elsewhere", overwrite=True)
    assert json.loads((tmp_path / "elsewhere" / "xling.json").read_text())["source"] == str(folder.resolve())
    # a folder holding the model itself: replacing it would have deleted the model being converted
    with pytest.raises(ConfigError, match="holds the model folder"):
        export_ct2(folder, tmp_path, overwrite=True)
    assert (folder / "config.json").is_file()


def test_models_ct2_cannot_translate_are_refused(tmp_path):
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"model_type": "xlm-roberta", "vocab_size": 10}))
    with pytest.raises(XlingError, match="'xlm-roberta' is not a sequence-to-sequence"):
        export_ct2(encoder)
    assert not (encoder / "ctranslate2").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no config.json"):
        export_ct2(empty)
    with pytest.raises(ConfigError, match="quantization"):
        export_ct2(encoder, quantization="int4")


def test_separate_marian_vocabularies_are_refused(tmp_path):
    folder = _tiny_models().build_marian(tmp_path / "marian")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "target_vocab.json").write_text((folder / "vocab.json").read_text())
    config.update(separate_vocabs=True, target_vocab_file=str(folder / "target_vocab.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(XlingError, match="separate source and target vocabularies"):
        export_ct2(folder)


def test_cli_writes_the_folder_and_its_report(tmp_path):
    folder = _tiny_models().build_xling(tmp_path / "model")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["export", "ct2", "--model", str(folder), "--quantization", "int8_float32", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "int8_float32" in result.output and has_ct2(folder)
    report = json.loads(out.read_text())
    assert report["quantization"] == "int8_float32" and report["output"] == str(folder / "ctranslate2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "quantization=int4"], "quantization"),
        ([], "is not a sequence-to-sequence architecture"),
    ],
)
def test_cli_errors_are_one_clear_line(tmp_path, monkeypatch, capsys, args, message):
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    monkeypatch.setattr("sys.argv", ["xling", "export", "ct2", "--model", str(encoder), *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.replace("\n", "")


def test_another_models_conversion_is_replaced_only_with_overwrite(tmp_path):
    first = _tiny_models().build_xling(tmp_path / "first")
    second = _tiny_models().build_xling(tmp_path / "second")
    export_ct2(first)
    before = (first / "ctranslate2" / "model.bin").read_bytes()
    with pytest.raises(XlingError, match="overwrite"):
        export_ct2(second, first / "ctranslate2")
    assert (first / "ctranslate2" / "model.bin").read_bytes() == before
    export_ct2(first)  # its own conversion is replaced unasked


def test_a_model_folder_without_its_tokenizer_is_a_clear_error(tmp_path):
    folder = _tiny_models().build_m2m100(tmp_path / "model")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "sentencepiece.bpe.model"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(XlingError, match="could not convert|tokenizer"):
        export_ct2(folder)


def test_a_quantized_conversion_far_beyond_rounding_is_not_written(tmp_path, monkeypatch):
    import xling.export.ct2 as ct2

    folder = _tiny_models().build_xling(tmp_path / "model")
    monkeypatch.setattr(ct2, "_compare_scores", lambda *args: [3.0, 2.0, 4.0])
    for quantization in ("int8", "int8_float32"):
        with pytest.raises(XlingError, match=rf"the {quantization} CTranslate2 model does not reproduce the "
                                             r"PyTorch model .*differ by 3 on average, up to 4"):  # fmt: skip
            export_ct2(folder, quantization=quantization)
        assert not (folder / "ctranslate2").exists()


def test_a_marian_model_whose_decoder_start_row_is_not_zero_is_not_converted(tmp_path):
    """CTranslate2 starts a Marian model's decoder from a zero vector, not from its <pad> row: a model whose
    row moved (fine-tuned with it free) translates otherwise whatever the quantization; int8 was written."""
    from transformers import AutoModelForSeq2SeqLM

    folder = _tiny_models().build_marian(tmp_path / "marian")
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    with torch.no_grad():
        model.model.shared.weight[model.config.pad_token_id] = 1.0
    model.save_pretrained(folder)
    for quantization in ("int8", "float32"):
        with pytest.raises(XlingError, match=r"its <pad> embedding row, where a Marian model starts decoding, "
                                             r"is not zero \(norm 4; .*differ by up to"):  # fmt: skip
            export_ct2(folder, quantization=quantization)
        assert not (folder / "ctranslate2").exists()


def test_a_folder_without_pytorch_weights_says_so(tmp_path, monkeypatch, capsys):
    """xling-mt-bible ships its CTranslate2 conversion only: exporting it failed inside the converter, with
    "no file named model.safetensors ...; is its tokenizer there?"."""
    import shutil

    folder = _tiny_models().build_xling(tmp_path / "model")
    export_ct2(folder)
    before = (folder / "ctranslate2" / "model.bin").read_bytes()
    (folder / "model.safetensors").unlink()
    message = r"model: no PyTorch weights to convert \(model.safetensors or pytorch_model.bin\)"
    with pytest.raises(DataError, match=message + r"; its CTranslate2 conversion \(ctranslate2/\) is there"):
        export_ct2(folder, quantization="float32")
    assert (folder / "ctranslate2" / "model.bin").read_bytes() == before  # left as it was
    shutil.rmtree(folder / "ctranslate2")
    with pytest.raises(DataError, match=message + "$"):
        export_ct2(folder, tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()
    monkeypatch.setattr("sys.argv", ["xling", "export", "ct2", "--model", str(folder)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "no PyTorch weights to convert" in err and "tokenizer" not in err
    from xling.export.ct2 import _require_torch_weights

    (folder / "pytorch_model.bin.index.json").write_text("{}")  # sharded .bin weights: converted as before
    _require_torch_weights(folder)


def test_a_truncated_weights_file_is_named_before_converting(tmp_path):
    """It was a SafetensorError traceback from inside the converter (translate and mt train named it)."""
    folder = _tiny_models().build_xling(tmp_path / "model")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"model\.safetensors.*truncated or corrupt"):
        export_ct2(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_without_ctranslate2_the_export_says_what_to_install(tmp_path, monkeypatch):
    """A missing ctranslate2 was a ModuleNotFoundError traceback from inside the conversion."""
    folder = _tiny_models().build_xling(tmp_path / "model")
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ctranslate2" else found(name, *a)
    )
    with pytest.raises(
        XlingError, match=r"export ct2 needs the ctranslate2 package \(pip install ctranslate2\)"
    ):
        export_ct2(folder)
    assert not (folder / "ctranslate2").exists()
