"""What `xling pretrain` refuses before it reads data or trains: outputs it would write over, models that do
not fit the tokenizer or max_length, settings out of range."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from xling.data.config import CorpusConfig
from xling.data.sources import TextSources
from xling.errors import ConfigError, XlingError
from xling.pretraining.data import build_pretraining_data
from xling.pretraining.pretrain import PretrainConfig, build_model, check_output, pretrain
from xling.tokenization.vocabulary import load_tokenizer
from xling.training import TrainingConfig


def _config(tokenizer: Path, output: Path, **fields) -> PretrainConfig:
    training = TrainingConfig(max_steps=2, batch_size=4, progress=False, threads=1, checkpoint_every=1000)
    fields = {"model": "tiny", "max_length": 32, "eval_max_sentences": 5, **fields}
    data = CorpusConfig(corpus="sample", heldout_fraction=0.1)
    return PretrainConfig(
        tokenizer=str(tokenizer), output=str(output), data=data, training=training, **fields
    )


@pytest.fixture(scope="module")
def tokenizer(sample_tokenizer_dir):
    return load_tokenizer(sample_tokenizer_dir)


@pytest.fixture
def other_tokenizer_dir(sample_tokenizer_dir, tmp_path) -> Path:
    """Return a tokenizer folder of the same size as the sample one whose first two regular pieces swapped
    ids: the same length, other meanings."""
    folder = tmp_path / "other-tokenizer"
    folder.mkdir()
    for entry in sample_tokenizer_dir.iterdir():
        (folder / entry.name).write_bytes(entry.read_bytes())
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]  # unigram: [piece, score] rows, the id is the row
    vocab[100], vocab[101] = vocab[101], vocab[100]
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


# --- 1: the output folder ---


def test_a_folder_of_someone_elses_files_is_refused_untouched(sample_tokenizer_dir, tmp_path):
    output = tmp_path / "mine"
    output.mkdir()
    (output / "config.json").write_text('{"mine": true}')
    (output / "notes.txt").write_text("notes")
    for resume in (False, True):  # with resume and no checkpoint the loop would start a new run there
        with pytest.raises(XlingError, match=f"{output}: the folder is not empty .*config.json, notes.txt"):
            pretrain(_config(sample_tokenizer_dir, output, resume=resume))
    assert sorted(p.name for p in output.iterdir()) == ["config.json", "notes.txt"]
    assert (output / "config.json").read_text() == '{"mine": true}'


def test_the_tokenizer_folder_and_a_file_are_refused(sample_tokenizer_dir, tmp_path):
    before = sorted(p.name for p in sample_tokenizer_dir.iterdir())
    with pytest.raises(XlingError, match="the tokenizer folder"):
        pretrain(_config(sample_tokenizer_dir, sample_tokenizer_dir))
    assert sorted(p.name for p in sample_tokenizer_dir.iterdir()) == before
    with pytest.raises(ConfigError, match="output: .* is the tokenizer folder"):
        check_output(_config(sample_tokenizer_dir, sample_tokenizer_dir / "."))
    # recipes/bible-small.toml trains the tokenizer into the run folder before pretraining there
    run = tmp_path / "bible-small"
    shutil.copytree(sample_tokenizer_dir, run / "tokenizer")
    check_output(_config(run / "tokenizer", run))
    (run / "notes.txt").write_text("mine")
    with pytest.raises(XlingError, match=r"not empty \(notes.txt\)"):
        check_output(_config(run / "tokenizer", run))
    check_output(_config(sample_tokenizer_dir, sample_tokenizer_dir / "model"))  # harms nothing
    a_file = tmp_path / "model.txt"
    a_file.write_text("x")
    with pytest.raises(XlingError, match=f"{a_file}: a file is there"):
        check_output(_config(sample_tokenizer_dir, a_file))


def test_a_finished_model_is_refused_but_empty_and_run_folders_pass(sample_tokenizer_dir, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "xling.json").write_text('{"kind": "masked-lm"}')
    (model / "config.json").write_text("{}")
    with pytest.raises(XlingError, match=f"{model}: a pretrained model is already there.*another output"):
        check_output(_config(sample_tokenizer_dir, model))
    (model / "checkpoints" / "step-00000005").mkdir(parents=True)
    check_output(_config(sample_tokenizer_dir, model))  # a run: the training loop resumes or refuses it
    empty, killed = tmp_path / "empty", tmp_path / "killed"
    empty.mkdir()
    killed.mkdir()
    (killed / "train_log.jsonl").write_text("")  # killed before its first checkpoint
    for folder in (empty, killed, tmp_path / "new"):
        check_output(_config(sample_tokenizer_dir, folder))


# --- 2, 3, 4, 9: the model against the tokenizer, eval_layer and max_length ---


def test_a_model_folder_with_another_tokenizer_is_refused(
    make_tiny_mlm, sample_tokenizer_dir, other_tokenizer_dir, tokenizer, tmp_path
):
    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    other = load_tokenizer(other_tokenizer_dir)
    assert len(other) == len(tokenizer) and other.get_vocab() != tokenizer.get_vocab()
    config = _config(other_tokenizer_dir, tmp_path / "out", model=str(folder))
    with pytest.raises(ConfigError, match=f"model: {folder} .*another tokenizer than {other_tokenizer_dir}"):
        build_model(config, other)
    assert build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(folder)), tokenizer)


def test_a_model_folder_of_another_vocabulary_size_is_refused(tokenizer, sample_tokenizer_dir, tmp_path):
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    folder = tmp_path / "small-vocab"  # no tokenizer saved: only the size can be checked
    config = XLMRobertaConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=40)  # fmt: skip
    XLMRobertaForMaskedLM(config).save_pretrained(folder)
    with pytest.raises(ConfigError, match=f"model: {folder} has vocab_size 100 .*has {len(tokenizer)} ids"):
        build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(folder)), tokenizer)


def test_a_config_json_gives_a_new_models_shape_with_the_tokenizers_vocabulary(
    tokenizer, sample_tokenizer_dir, tmp_path
):
    """`--model xlmr/config.json` (vocab_size 250002) was refused against a 1,600-id tokenizer, though the
    advice for a folder without weights is to give its config.json: its vocabulary is the tokenizer's."""
    from transformers import XLMRobertaConfig

    shape = tmp_path / "xlmr" / "config.json"
    shape.parent.mkdir()
    XLMRobertaConfig(vocab_size=250002, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=514).to_json_file(shape)  # fmt: skip
    model = build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(shape)), tokenizer)
    assert model.config.vocab_size == len(tokenizer) == model.lm_head.decoder.out_features
    assert model.config.max_position_embeddings == 514  # room for max_length 32 already
    # a max_length beyond its positions grows the new model's table to max_length + padding_idx + 1 rows
    model = build_model(
        _config(sample_tokenizer_dir, tmp_path / "out", model=str(shape), max_length=600), tokenizer
    )
    assert (
        model.config.max_position_embeddings
        == 602
        == model.roberta.embeddings.position_embeddings.num_embeddings
    )
    with pytest.raises(ConfigError, match="max_length: 5000 is above 4096"):
        build_model(
            _config(sample_tokenizer_dir, tmp_path / "out", model=str(shape), max_length=5000), tokenizer
        )


def test_a_model_folder_of_pickled_or_sharded_weights_is_continued_from(
    make_tiny_mlm, sample_tokenizer_dir, other_tokenizer_dir, tokenizer, tmp_path
):
    """A folder with config.json and pytorch_model.bin (no .safetensors) was taken for a config alone: a new
    random model of its shape, the tokenizer unchecked."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    embeddings = "roberta.embeddings.word_embeddings.weight"
    config = _config(sample_tokenizer_dir, tmp_path / "out", model=str(folder))
    torch.manual_seed(5)
    assert torch.equal(build_model(config, tokenizer).state_dict()[embeddings], weights[embeddings])
    with pytest.raises(ConfigError, match="another tokenizer"):  # checked as for a safetensors folder
        build_model(
            _config(other_tokenizer_dir, tmp_path / "out", model=str(folder)),
            load_tokenizer(other_tokenizer_dir),
        )
    # sharded safetensors: an index file and its shards
    (folder / "pytorch_model.bin").unlink()
    save_file(weights, folder / "model-00001-of-00001.safetensors")
    index = {"metadata": {}, "weight_map": {name: "model-00001-of-00001.safetensors" for name in weights}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert torch.equal(build_model(config, tokenizer).state_dict()[embeddings], weights[embeddings])


def test_a_bf16_model_folder_is_continued_in_float32_with_the_dropout_given(
    make_tiny_mlm, sample_tokenizer_dir, tokenizer, tmp_path
):
    """transformers loads a folder in the dtype it was saved in: AdamW on bf16 weights rounds most small
    updates away."""
    import torch
    from transformers import XLMRobertaForMaskedLM

    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    XLMRobertaForMaskedLM.from_pretrained(folder).to(torch.bfloat16).save_pretrained(folder)
    model = build_model(
        _config(sample_tokenizer_dir, tmp_path / "out", model=str(folder), dropout=0.0), tokenizer
    )
    assert {parameter.dtype for parameter in model.parameters()} == {torch.float32}
    assert model.config.hidden_dropout_prob == model.config.attention_probs_dropout_prob == 0.0


def test_a_model_folder_that_is_not_xlmr_or_lacks_its_encoder_is_refused(
    make_tiny_mlm, sample_tokenizer_dir, tokenizer, tmp_path
):
    """Loaded as XLM-R, a BERT folder started every weight random, padding with `<s>`'s row."""
    from safetensors.torch import load_file, save_file
    from transformers import BertConfig, BertForMaskedLM

    bert = tmp_path / "bert"
    BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=32, max_position_embeddings=40)).save_pretrained(bert)  # fmt: skip
    with pytest.raises(ConfigError, match=f"model: {bert} is a 'bert' model"):
        build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(bert)), tokenizer)
    # a new model of its shape (its config.json) pads with xling's <pad>, not BERT's 0 (`<s>` here)
    bert_json = json.loads((bert / "config.json").read_text())
    (bert / "config.json").write_text(json.dumps({**bert_json, "max_position_embeddings": 600}))
    new = build_model(
        _config(sample_tokenizer_dir, tmp_path / "out", model=str(bert / "config.json")), tokenizer
    )
    assert new.roberta.embeddings.word_embeddings.padding_idx == new.config.pad_token_id == 1
    assert (new.config.bos_token_id, new.config.eos_token_id) == (0, 2)
    assert new.roberta.embeddings.word_embeddings.weight[0].abs().sum() > 0  # `<s>` trains
    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    settings = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**settings, "pad_token_id": 0}))
    with pytest.raises(ConfigError, match="pads with id 0, xling's batches with 1"):
        build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(folder)), tokenizer)
    (folder / "config.json").write_text(json.dumps(settings))
    weights = load_file(folder / "model.safetensors")
    # the LM head alone may be missing (an encoder's folder): it starts random; an encoder weight may not
    save_file(
        {k: v for k, v in weights.items() if not k.startswith("lm_head.")}, folder / "model.safetensors"
    )
    assert build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(folder)), tokenizer)
    save_file({k: v for k, v in weights.items() if "layer.0." not in k}, folder / "model.safetensors")
    with pytest.raises(ConfigError, match="lacks .* encoder weight"):
        build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(folder)), tokenizer)


def test_a_model_folder_without_weights_or_with_an_unsafe_pickle_is_refused(
    make_tiny_mlm, sample_tokenizer_dir, tokenizer, tmp_path
):
    import torch

    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    (folder / "model.safetensors").unlink()
    config = _config(sample_tokenizer_dir, tmp_path / "out", model=str(folder))
    with pytest.raises(ConfigError, match=f"model: {folder} has a config.json but no weights file"):
        build_model(config, tokenizer)
    # a pickle that is more than tensors is not loaded (weights_only), named
    torch.save({"roberta.embeddings.word_embeddings.weight": Path("x")}, folder / "pytorch_model.bin")
    with pytest.raises(XlingError, match="pytorch_model.bin: a pickle that does not hold plain tensors"):
        build_model(config, tokenizer)


def test_max_length_beyond_a_model_folders_positions_is_refused(
    make_tiny_mlm, sample_tokenizer_dir, tokenizer, tmp_path
):
    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)  # 40 positions: max_length up to 38
    build_model(_config(sample_tokenizer_dir, tmp_path / "out", model=str(folder), max_length=38), tokenizer)
    config = _config(sample_tokenizer_dir, tmp_path / "out", model=str(folder), max_length=39)
    with pytest.raises(ConfigError, match="max_length: 39 needs 41 positions.*max_position_embeddings 40"):
        build_model(config, tokenizer)


def test_max_length_of_a_new_model_is_bounded(sample_tokenizer_dir, tmp_path):
    with pytest.raises(ConfigError, match="max_length: 100000 is above 4096"):
        _config(sample_tokenizer_dir, tmp_path / "out", max_length=100_000).validate()
    _config(sample_tokenizer_dir, tmp_path / "out", max_length=4096).validate()


def test_eval_layer_out_of_range_is_refused_before_training(sample_tokenizer_dir, tokenizer, tmp_path):
    for layer in (-3, 0, 2):  # tiny has 2 layers: hidden states -3..2
        build_model(_config(sample_tokenizer_dir, tmp_path / "out", eval_layer=layer), tokenizer)
    output = tmp_path / "out"
    for layer in (3, -4):
        with pytest.raises(ConfigError, match=f"eval_layer: {layer} .*2 layers; use -3 to 2"):
            pretrain(_config(sample_tokenizer_dir, output, eval_layer=layer))
    assert not output.exists()


# --- 5, 6, 7, 8: data settings ---


def test_a_parallel_file_of_one_language_is_refused(tokenizer, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("Hello.\tHello.\n")
    sources = TextSources.from_options("sample", ["eng", "deu"], [])
    with pytest.raises(ConfigError, match="parallel: 'en-eng=.*' pairs eng with itself"):
        build_pretraining_data(sources, tokenizer, [f"en-eng={pairs}"])
    # a test set is never trained on, as TLM pairs either (BLI's test dictionaries, Tatoeba's pairs)
    test = tmp_path / "yacle.test.freq.2k.en-de.tsv"
    test.write_text("house\tHaus\n")
    with pytest.raises(ConfigError, match="parallel 'en-de=.*': .* is a test set"):
        build_pretraining_data(sources, tokenizer, [f"en-de={test}"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("eval_max_sentences", 0, "eval_max_sentences: 0 must be at least 1"),
        ("eval_max_sentences", -5, "eval_max_sentences: -5 must be at least 1"),
        ("max_sentences_per_language", -1, "max_sentences_per_language: -1 must be >= 0"),
    ],
)
def test_counts_out_of_range_are_refused(field, value, message):
    with pytest.raises(ConfigError, match=message):
        PretrainConfig(tokenizer="t", **{field: value}).validate()
    PretrainConfig(tokenizer="t", max_sentences_per_language=0).validate()  # 0 = no cap


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("eval_pivot", "xx", "eval_pivot: unknown language code 'xx'"),
        ("tlm_pivot", "klingon?", "tlm_pivot: unknown language code 'klingon\\?'"),
        ("alpha", 1.5, r"alpha: 1.5 must be in \[0, 1\]"),
        ("alpha", -0.1, r"alpha: -0.1 must be in \[0, 1\]"),
    ],
)
def test_pivots_and_alpha_are_checked_before_any_data_is_read(
    sample_tokenizer_dir, tmp_path, monkeypatch, field, value, message
):
    """An unknown eval_pivot failed after training (no model saved), a tlm_pivot or alpha after reading the
    data."""
    import xling.pretraining.pretrain as pretrain_module

    def no_reading(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(pretrain_module, "build_pretraining_data", no_reading)
    output = tmp_path / "out"
    with pytest.raises(XlingError, match=message):
        pretrain(_config(sample_tokenizer_dir, output, **{field: value}))
    assert not output.exists()
    PretrainConfig(tokenizer="t", eval_pivot="en", tlm_pivot="de", alpha=0.0).validate()
    PretrainConfig(tokenizer="t", eval_pivot="", tlm_pivot="", alpha=1.0).validate()


def test_the_sentence_cap_counts_training_sentences_only(tokenizer):
    sources = TextSources.from_options("sample", ["eng", "deu"], [], heldout_fraction=0.5)
    data = build_pretraining_data(sources, tokenizer, max_sentences_per_language=20)
    assert all(len(rows) > 100 for rows in data.heldout.values())  # about half of 330 held out
    assert {lang: len(pool) for lang, pool in data.pools.items()} == {"eng": 20, "deu": 20}
    assert data.units.shape == (20, 2)  # the same ids in both languages: 20 translation pairs


def test_without_languages_the_run_takes_the_tokenizers_and_a_language_without_its_token_is_refused(tmp_path):
    from xling.pretraining.pretrain import training_sources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    # the README's example: a tokenizer of three of the sample's nine languages, then pretrain on the sample
    three = TextSources.from_options("sample", ["eng", "deu", "rus"], [])
    train_vocabulary(three.text_factories(), VocabConfig(output=str(tmp_path / "tok"), vocab_size=600,
                                                          sample_sentences=2000))  # fmt: skip
    tokenizer = load_tokenizer(tmp_path / "tok")
    config = _config(tmp_path / "tok", tmp_path / "out")
    assert training_sources(config, tokenizer).languages == ["deu", "eng", "rus"]
    asked = replace(config, data=CorpusConfig(corpus="sample", languages=["eng", "fra"]))
    with pytest.raises(
        ConfigError, match=r"data.languages: the tokenizer .*tok has no language token for fra"
    ):
        training_sources(asked, tokenizer)


def test_a_batch_with_no_masked_token_gives_every_parameter_a_gradient():
    """DDP reduces every parameter's gradient: the zero loss of a batch with nothing masked left the LM head
    out of the graph, which fails or hangs a torchrun step."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xling.pretraining.masking import IGNORE_INDEX
    from xling.pretraining.objective import MaskedLMObjective

    config = XLMRobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=40)  # fmt: skip
    objective = MaskedLMObjective(XLMRobertaForMaskedLM(config))
    ids = torch.randint(5, 50, (2, 6))
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.full_like(ids, IGNORE_INDEX),
    }
    out = objective(batch)
    out["loss"].backward()
    assert float(out["loss"]) == 0.0 and int(out["items"]) == 0
    unused = [name for name, p in objective.named_parameters() if p.requires_grad and p.grad is None]
    assert unused == []


# --- pivots in any code form ---


def _cmn_corpus(tmp_path: Path) -> Path:
    """Return a corpus folder of the sample's English and Chinese, the Chinese kept as cmn.tsv (as the shared
    Bible keeps Mandarin)."""
    from xling.data.sources import sample_corpus_dir

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(sample_corpus_dir() / "eng.tsv", corpus / "eng.tsv")
    shutil.copy(sample_corpus_dir() / "zho.tsv", corpus / "cmn.tsv")
    return corpus


def test_a_zh_tlm_pivot_pairs_the_corpus_cmn(tokenizer, sample_tokenizer_dir, tmp_path):
    """`zh` was normalised to zho, which the corpus keeps as cmn: "tlm_pivot: zho is not a training language",
    once all the data was read."""
    import numpy as np

    from xling.pretraining.data import PretrainingData, SentencePool, _tokenize
    from xling.pretraining.pretrain import check_pivots, make_batches

    sources = TextSources.from_options(str(_cmn_corpus(tmp_path)), [], [])
    config = _config(sample_tokenizer_dir, tmp_path / "out", tlm_pivot="zh", tlm_ratio=1.0)
    check_pivots(config, sources)
    pools = {lang: _tokenize(tokenizer, [f"{lang} one", f"{lang} two"]) for lang in ("cmn", "eng")}
    units = np.array([[0, 0], [1, 1]], dtype=np.int32)  # two translation pairs; language token ids unused
    data = PretrainingData(["cmn", "eng"], {k: SentencePool(*v) for k, v in pools.items()}, units, {})
    for pivot in ("zh", "zho", "cmn"):
        assert make_batches(replace(config, tlm_pivot=pivot), data, tokenizer).tlm_pivot == "cmn"


def test_a_pivot_of_no_training_language_is_refused_or_warned_before_any_data_is_read(
    sample_tokenizer_dir, tmp_path, monkeypatch, caplog
):
    """A tlm_pivot of none of the run's languages failed only after all data was read; an eval_pivot gave no
    retrieval figures without a word."""
    import logging

    import xling.pretraining.pretrain as pretrain_module

    def no_reading(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(pretrain_module, "build_pretraining_data", no_reading)
    data = CorpusConfig(corpus="sample", languages=["eng", "deu"])
    config = replace(_config(sample_tokenizer_dir, tmp_path / "out", tlm_pivot="fr"), data=data)
    with pytest.raises(
        ConfigError, match=r"^tlm_pivot: fr is not a training language; the run's are deu, eng"
    ):
        pretrain(config)
    warned = caplog.at_level(logging.WARNING, logger="xling.pretraining.pretrain")
    with warned, pytest.raises(AssertionError, match="the data was read"):  # the warning came first
        pretrain(replace(config, tlm_pivot="", eval_pivot="fr"))
    assert "eval_pivot: fr is not a training language (deu, eng)" in caplog.text


def test_texts_are_pretrained_and_held_out_in_nfc_whatever_form_the_files_hold(
    sample_tokenizer_dir, tmp_path
):
    """Pretraining encoded the corpus, text files and parallel pairs as they were: a tokenizer made before its
    NFC step reads NFD text otherwise than the NFC its vocabulary was learned on (see
    hf_tokenizer_from_spm), and the held-out evaluation encoded it so too."""
    import unicodedata

    from tokenizers import Tokenizer

    text = "Tiếng Việt rất đẹp; Ắ ặ ồ ữ, Ça a été créé à Noël"
    old = load_tokenizer(sample_tokenizer_dir)  # the converter's normalizer alone, without the NFC step
    steps = json.loads(old.backend_tokenizer.to_str())
    steps["normalizer"]["normalizers"] = [s for s in steps["normalizer"]["normalizers"] if s["type"] != "NFC"]
    old.backend_tokenizer.normalizer = Tokenizer.from_str(json.dumps(steps)).normalizer

    def data(form: str):
        folder = tmp_path / form
        (folder / "corpus").mkdir(parents=True)
        body = unicodedata.normalize(form, text)
        for lang in ("eng", "fra"):
            lines = [f"GEN.1.{i}\t{lang} {i}: {body}\n" for i in range(1, 5)]
            (folder / "corpus" / f"{lang}.tsv").write_text("".join(lines), encoding="utf-8")
        (folder / "fr.txt").write_text(f"{body} news\n", encoding="utf-8")
        (folder / "pairs.tsv").write_text(f"{body}\t{body} pair\n", encoding="utf-8")
        sources = TextSources.from_options(
            str(folder / "corpus"), [], [f"fr={folder / 'fr.txt'}"], ["GEN.1.4"]
        )
        return build_pretraining_data(sources, old, [f"eng-fra={folder / 'pairs.tsv'}"])

    nfd, nfc = data("NFD"), data("NFC")
    # else the test would show nothing
    assert old(unicodedata.normalize("NFD", text))["input_ids"] != old(text)["input_ids"]
    for lang in ("eng", "fra"):
        assert nfd.pools[lang].tokens.tolist() == nfc.pools[lang].tokens.tolist(), lang
        assert nfd.heldout[lang] == nfc.heldout[lang] == [("GEN.1.4", f"{lang} 4: {text}")]


def test_a_zh_parallel_file_joins_the_corpus_cmn(tokenizer, tmp_path):
    """`zh-eng=pairs.tsv` beside a corpus's cmn.tsv made a third language, zho, apart from cmn."""
    from xling.pretraining.data import _training_code

    assert _training_code("zho", ["cmn", "eng"]) == "cmn"
    assert _training_code("eng", ["cmn", "eng"]) == "eng"
    assert _training_code("deu", ["cmn", "eng"]) == "deu"  # a language of the parallel files alone
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("你好\thello\n谢谢\tthank you\n", encoding="utf-8")
    sources = TextSources.from_options(str(_cmn_corpus(tmp_path)), [], [])
    out = tmp_path / "cmn-tokenizer"  # with a cmn token, as one trained on this corpus has
    train_vocabulary(
        sources.text_factories(), VocabConfig(output=str(out), vocab_size=1400, sample_sentences=2_000)
    )
    data = build_pretraining_data(sources, load_tokenizer(out), parallel_files=[f"zh-eng={pairs}"])
    assert sorted(data.languages) == ["cmn", "eng"]
    assert data.units.shape[1] == 2 and len(data.units) >= 2  # the pairs are units of cmn and eng
