"""`xling adapt` on a static encoder: the made-up language becomes retrievable, the old ones do not move."""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from xling.adaptation import AdaptConfig, adapt
from xling.artifacts import write_metadata
from xling.data.sources import sample_corpus_dir
from xling.embeddings.encoder import Encoder
from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.translation_accuracy import retrieval_accuracy

from .conftest import OLD_LANGUAGES, cipher, make_static_model, sample_sentences


def small_config(model, output, **fields) -> AdaptConfig:
    config = AdaptConfig(model=str(model), language="kat", output=str(output), **fields)
    config.vocabulary.max_new = 400
    config.vocabulary.learn_size = 800
    config.training.max_steps = 60
    config.training.batch_size = 64
    config.training.threads = 1
    config.training.checkpoint_every = 30
    return config


def test_made_up_language_becomes_retrievable_and_old_vectors_stay_bit_identical(
    tmp_path, tiny_static, cipher_data
):
    english = sample_sentences("eng")
    new_language = [cipher(s) for s in english]
    old = Encoder.load(tiny_static)
    before = retrieval_accuracy(old.encode(new_language[200:]), old.encode(english[200:])).average

    config = small_config(tiny_static, tmp_path / "adapted", dictionary=[f"eng-kat={cipher_data['dictionary']}"],
                          parallel=[str(cipher_data["parallel"])], text=[str(cipher_data["text"])])  # fmt: skip
    result = adapt(config)
    new = Encoder.load(result.output)
    after = retrieval_accuracy(new.encode(new_language[200:]), new.encode(english[200:])).average

    # the sentences after 200 are in no input file (only their words are in the dictionary)
    assert before < 0.2
    assert after > 0.8
    assert result.vocabulary["added"] > 50
    for lang in OLD_LANGUAGES:
        texts = sample_sentences(lang)
        assert np.array_equal(old.encode(texts), new.encode(texts)), lang
    meta = json.loads((result.output / "xling.json").read_text())
    assert meta["languages"] == [*OLD_LANGUAGES, "kat"] and meta["name"] == "adapted"
    assert meta["adaptations"][0]["language"] == "kat"
    settings = meta["adaptations"][0]["settings"]  # what it ran with, on record
    assert settings["language"] == "kat" and settings["training"]["max_steps"] == 60
    # Georgian pieces: no old language writes in them, and no old row trained
    assert meta["adaptations"][0]["old_languages"]["other_texts"] == "kept"
    assert (
        meta["adaptations"][0]["after"]["dev_retrieval"] > meta["adaptations"][0]["before"]["dev_retrieval"]
    )


SUKUN = "\u0652"  # not in the sample tokenizer's pieces, unlike fatha, damma, kasra and shadda
ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنه"


def _arabic_cipher(text: str) -> str:
    """Return `text` in a made-up language written in Arabic letters (lower case, a-z mapped to letters)."""
    return text.lower().translate(str.maketrans("abcdefghijklmnopqrstuvwxyz", ARABIC_LETTERS))


@pytest.mark.parametrize("drop_marks", [True, False])
def test_an_arabic_script_language_reads_past_its_optional_marks(tmp_path, tiny_static, drop_marks):
    english = sample_sentences("eng")[:150]
    words = sorted(
        {w for s in english for w in s.lower().replace(".", " ").replace(",", " ").split() if w.isalpha()}
    )
    # the dictionary is vocalised (a sukun after each word's first letter), the sentences are not
    dictionary = tmp_path / "dict.tsv"
    dictionary.write_text("".join(f"{w}\t{_arabic_cipher(w)[0]}{SUKUN}{_arabic_cipher(w)[1:]}\n" for w in words),
                          encoding="utf-8")  # fmt: skip
    parallel = tmp_path / "parallel.tsv"
    parallel.write_text("".join(f"{s}\t{_arabic_cipher(s)}\n" for s in english), encoding="utf-8")
    config = small_config(
        tiny_static, tmp_path / "out", dictionary=[str(dictionary)], parallel=[str(parallel)]
    )
    config.language, config.vocabulary.drop_marks, config.training.max_steps = "arb", drop_marks, 1
    result = adapt(config)
    plain = _arabic_cipher(english[0])
    vocalised = "".join(f"{char}{SUKUN}" if char in ARABIC_LETTERS else char for char in plain)
    encoder = Encoder.load(result.output)
    same = np.array_equal(encoder.encode([vocalised]), encoder.encode([plain]))
    recorded = json.loads((tmp_path / "out" / "xling.json").read_text())["adaptations"][-1]["vocabulary"]
    if drop_marks:
        assert SUKUN in result.vocabulary["dropped_marks"] and recorded["marks_dropped"] > 0 and same
        # the vocalised dictionary words seed the rows of the plain whole-word pieces they are read as
        assert result.vocabulary["initialised"]["translated"] > 20
    else:
        assert recorded["marks_dropped"] == 0 and not same


def test_extension_keeps_old_token_ids(tmp_path, tiny_static, cipher_data):
    result = adapt(small_config(tiny_static, tmp_path / "adapted", text=[str(cipher_data["text"])],
                                dictionary=[f"eng-kat={cipher_data['dictionary']}"]))  # fmt: skip
    old = Tokenizer.from_file(str(tiny_static / "0_StaticEmbedding" / "tokenizer.json"))
    new = Tokenizer.from_file(str(result.output / "0_StaticEmbedding" / "tokenizer.json"))
    old_vocab, new_vocab = old.get_vocab(), new.get_vocab()
    assert all(new_vocab[piece] == i for piece, i in old_vocab.items())
    assert min(i for piece, i in new_vocab.items() if piece not in old_vocab) == len(old_vocab)


@pytest.mark.parametrize("train_old", [False, True])
def test_int8_model_keeps_its_old_rows_bit_for_bit(tmp_path, sample_tokenizer_dir, cipher_data, train_old):
    base = make_static_model(tmp_path / "base8", sample_tokenizer_dir, int8=True)
    config = small_config(base, tmp_path / "adapted", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.static.train_unprotected_old_rows = train_old
    result = adapt(config)
    texts = sample_sentences("deu")
    assert np.array_equal(Encoder.load(base).encode(texts), Encoder.load(result.output).encode(texts))


def test_an_int8_models_after_figure_is_scored_on_the_rows_it_saves(tmp_path, sample_tokenizer_dir, cipher_data,
                                                                      monkeypatch):  # fmt: skip
    from safetensors.torch import load_file

    import xling.adaptation.static as static

    scored = {}
    dev_scores = static._dev_scores

    def spy(model, dev, targets, *, old):
        if not old:
            scored["rows"] = model.new_rows().clone()
        return dev_scores(model, dev, targets, old=old)

    monkeypatch.setattr(static, "_dev_scores", spy)
    base = make_static_model(tmp_path / "base8", sample_tokenizer_dir, int8=True)
    result = adapt(
        small_config(base, tmp_path / "adapted", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    )
    saved = load_file(str(result.output / "0_StaticEmbedding" / "model.safetensors"))
    new = len(scored["rows"])
    rows = saved["embeddings"][-new:].float() * saved["weights"][-new:].float()[:, None]
    assert torch.allclose(scored["rows"], rows, atol=1e-6)  # the float rows were scored, the int8 ones saved


def test_resumed_run_matches_an_uninterrupted_one(tmp_path, tiny_static, cipher_data):
    sources = {"dictionary": [f"eng-kat={cipher_data['dictionary']}"], "text": [str(cipher_data["text"])]}
    whole = adapt(small_config(tiny_static, tmp_path / "whole", **sources))
    first = small_config(tiny_static, tmp_path / "parts", **sources)
    first.training.max_steps = 30  # stops with a checkpoint at step 30
    adapt(first)
    (tmp_path / "parts" / "xling.json").unlink()
    resumed = small_config(tiny_static, tmp_path / "parts", resume=True, **sources)
    result = adapt(resumed)
    assert result.training["resumed_from"] == 30
    texts = [cipher(s) for s in sample_sentences("eng")[:50]]
    assert np.allclose(
        Encoder.load(whole.output).encode(texts), Encoder.load(result.output).encode(texts), atol=1e-6
    )
    # a saved vocabulary cut short (a run killed while writing it, before the write was atomic): one line
    (tmp_path / "parts" / "xling.json").unlink()
    (tmp_path / "parts" / "vocabulary" / "tokenizer.meta.json").write_text("{bad", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"vocabulary: the run's saved vocabulary cannot be read .*--overwrite"
    ):
        adapt(resumed)


def test_resume_refuses_data_files_edited_since_the_checkpoint(tmp_path, tiny_static, cipher_data):
    """adapt gave the training loop no data files: a text edited in place was resumed on unnoticed."""
    sources = {"dictionary": [f"eng-kat={cipher_data['dictionary']}"], "text": [str(cipher_data["text"])]}
    first = small_config(tiny_static, tmp_path / "parts", **sources)
    first.training.max_steps = 30
    adapt(first)
    (tmp_path / "parts" / "xling.json").unlink()
    text = cipher_data["text"]
    lines = text.read_text(encoding="utf-8").splitlines(keepends=True)
    text.write_text("".join(reversed(lines)), encoding="utf-8")  # the same sentences in another order
    with pytest.raises(ConfigError, match=r"--resume reads other training data .*text\.txt"):
        adapt(small_config(tiny_static, tmp_path / "parts", resume=True, **sources))


def test_resume_takes_the_language_and_files_written_another_way(
    tmp_path, tiny_static, cipher_data, monkeypatch
):
    """`ka` for `kat`, `./dict.tsv` or the absolute path for `dict.tsv`: the same run's settings, which both
    the saved vocabulary's record and the checkpoint refused as others."""
    monkeypatch.chdir(tmp_path)
    first = small_config(tiny_static, tmp_path / "parts", dictionary=["dict.tsv"])
    first.training.max_steps = 30  # stops with a checkpoint at step 30
    adapt(first)
    # then from the checkpoint the first resume ended with
    for language, dictionary, step in (
        ("ka", "./dict.tsv", 30),
        ("ka-GE", str(cipher_data["dictionary"]), 60),
    ):
        (tmp_path / "parts" / "xling.json").unlink()
        resumed = small_config(tiny_static, tmp_path / "parts", resume=True, dictionary=[dictionary])
        resumed.language = language
        assert adapt(resumed).training["resumed_from"] == step
    # another language is still another setting
    (tmp_path / "parts" / "xling.json").unlink()
    other = small_config(tiny_static, tmp_path / "parts", resume=True, dictionary=["dict.tsv"])
    other.language = "hye"
    with pytest.raises(
        ConfigError, match=r"--resume with other settings .*language: 'kat' in the run, 'hye' now"
    ):
        adapt(other)


def _killed_before_its_first_checkpoint(config: AdaptConfig, monkeypatch) -> None:
    """Run `config` until the training loop starts, as a run killed before its first checkpoint."""
    import xling.adaptation.static as static

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(static, "train", killed)
        with pytest.raises(KeyboardInterrupt):
            adapt(config)
    assert [p.name for p in Path(config.output).iterdir()] == ["vocabulary"]


def test_resume_before_the_first_checkpoint_refuses_other_settings_or_data(tmp_path, tiny_static, cipher_data,
                                                                            monkeypatch):  # fmt: skip
    """A run killed before its first checkpoint (the default 400 steps never reach checkpoint_every 500) left
    the training loop nothing to compare: its vocabulary was taken up by a resume with other data, max_new,
    seed or dev_share, and the resumed run's dev words had shaped its pieces."""
    sources = {"dictionary": [f"eng-kat={cipher_data['dictionary']}"]}
    _killed_before_its_first_checkpoint(small_config(tiny_static, tmp_path / "out", **sources), monkeypatch)
    changes = {
        "seed": (lambda c: setattr(c, "seed", 7), r"seed: 0 in the run, 7 now"),
        "dev_share": (lambda c: setattr(c, "dev_share", 0.2), r"dev_share: 0\.1 in the run, 0\.2 now"),
        "max_new": (lambda c: setattr(c.vocabulary, "max_new", 5000), r"vocabulary\.max_new: 400 in the run"),
        "text": (lambda c: c.text.append(str(cipher_data["text"])), r"text: \[\] in the run, \[.*text\.txt"),
    }  # fmt: skip
    for change, message in changes.values():
        resumed = small_config(tiny_static, tmp_path / "out", resume=True, **sources)
        change(resumed)
        with pytest.raises(ConfigError, match=rf"out/vocabulary: --resume with other settings .*{message}"):
            adapt(resumed)
    dictionary = cipher_data["dictionary"]
    saved = dictionary.read_text(encoding="utf-8")
    dictionary.write_text("".join(reversed(saved.splitlines(keepends=True))), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"out/vocabulary: --resume reads other training data .*dict\.tsv"):
        adapt(small_config(tiny_static, tmp_path / "out", resume=True, **sources))
    dictionary.write_text(saved, encoding="utf-8")
    # the run's own settings and data (how long it trains may change): taken up
    resumed = small_config(tiny_static, tmp_path / "out", resume=True, **sources)
    resumed.training.max_steps = 2
    result = adapt(resumed)
    assert result.training["steps"] == 2 and result.vocabulary["added"] > 0


def test_a_run_recorded_before_drop_marks_and_gloss_features_resumes_as_one_without_them(tmp_path, tiny_static,
                                                                                    cipher_data, monkeypatch):  # fmt: skip
    from xling.adaptation.output import RUN_RECORD

    sources = {"dictionary": [f"eng-kat={cipher_data['dictionary']}"]}
    config = small_config(tiny_static, tmp_path / "out", **sources)
    config.vocabulary.drop_marks = config.static.gloss_features = False
    _killed_before_its_first_checkpoint(config, monkeypatch)
    record = tmp_path / "out" / "vocabulary" / RUN_RECORD
    saved = json.loads(record.read_text(encoding="utf-8"))
    del saved["config"]["vocabulary"]["drop_marks"]  # as a record written before the fields existed
    del saved["config"]["static"]["gloss_features"]
    record.write_text(json.dumps(saved), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"vocabulary\.drop_marks: False in the run, True now"):
        adapt(small_config(tiny_static, tmp_path / "out", resume=True, **sources))
    resumed = small_config(tiny_static, tmp_path / "out", resume=True, **sources)
    resumed.vocabulary.drop_marks = resumed.static.gloss_features = False
    resumed.training.max_steps = 2
    assert adapt(resumed).training["steps"] == 2


def test_checkpoints_keep_the_hashes_of_the_protected_files(tmp_path, tiny_static, cipher_data):
    """The protected texts decide the new pieces: a resume on edited ones would train other rows."""
    from xling.training.checkpoint import list_checkpoints

    protect = tmp_path / "protect.txt"
    protect.write_text("\n".join(sample_sentences("deu")[:20]) + "\n", encoding="utf-8")
    config = small_config(tiny_static, tmp_path / "out", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.vocabulary.protect = [str(protect)]
    adapt(config)
    state = json.loads((list_checkpoints(tmp_path / "out")[-1] / "trainer_state.json").read_text())
    assert {Path(path).name for path in state["data_files"]} == {"dict.tsv", "protect.txt"}


def test_language_the_model_has_needs_replace(tmp_path, tiny_static, cipher_data):
    config = small_config(tiny_static, tmp_path / "out", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.language = "de"
    with pytest.raises(ConfigError, match="already has deu.*--replace"):
        adapt(config)


def test_a_member_of_a_listed_macrolanguage_is_a_language_of_its_own(
    tmp_path, sample_tokenizer_dir, cipher_data
):
    """A model listing `que` (Quechua) refused `quz` (Cusco Quechua), and one listing `ara` refused `arz`, as
    "already has"; with --replace the member was then left out of `languages`."""
    from xling.adaptation.result import listed_languages

    base = make_static_model(tmp_path / "base", sample_tokenizer_dir)
    languages = [*OLD_LANGUAGES, "que", "ara"]
    write_metadata(base, {"name": "base", "kind": "sentence-encoder/static", "languages": languages})
    config = small_config(base, tmp_path / "quz", dictionary=[f"eng-quz={cipher_data['dictionary']}"])
    config.language, config.training.max_steps = "quz", 2
    result = adapt(config)
    assert json.loads((result.output / "xling.json").read_text())["languages"] == [*languages, "quz"]
    assert listed_languages(languages, "arz") == [*languages, "arz"]
    # the model's language in another form still needs --replace: `deu` as `de`, `cmn` as `zho`
    write_metadata(base, {"name": "base", "kind": "sentence-encoder/static", "languages": ["eng", "cmn"]})
    config = small_config(base, tmp_path / "zh", dictionary=[str(cipher_data["dictionary"])])
    config.language = "zho"
    with pytest.raises(ConfigError, match="already has zho.*--replace"):
        adapt(config)
    assert listed_languages(["eng", "cmn"], "zho") == ["eng", "cmn"]
    # a base that lists none (a plain Hugging Face folder) gives none: ["tur"] said the model knew Turkish
    # alone, and a second adaptation refused its pivot and protected none of the base's languages
    assert listed_languages([], "tur") == []


def test_finished_output_is_not_overwritten(tmp_path, tiny_static, cipher_data):
    config = small_config(tiny_static, tmp_path / "out", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    adapt(config)
    with pytest.raises(XlingError, match="already there"):
        adapt(config)


def test_overwrite_keeps_the_earlier_model_when_the_new_run_fails(tmp_path, tiny_static, cipher_data):
    config = small_config(tiny_static, tmp_path / "out", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    adapt(config)
    saved = {
        p.relative_to(config.output): p.read_bytes() for p in Path(config.output).rglob("*") if p.is_file()
    }
    config.overwrite = True
    config.static.weights = {"dictionary": 0.0}  # every kind there is weighs 0: refused once data is built
    with pytest.raises(ConfigError, match=r"static\.weights: every kind of example there is \(dictionary\)"):
        adapt(config)
    after = {
        p.relative_to(config.output): p.read_bytes() for p in Path(config.output).rglob("*") if p.is_file()
    }
    assert after == saved
    assert not list(tmp_path.glob(".out*"))


def test_output_may_not_be_the_model_folder(tmp_path, tiny_static, cipher_data):
    from xling.adaptation.repair import repair_static

    config = small_config(tiny_static, tiny_static, dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.overwrite = True
    with pytest.raises(ConfigError, match="is the model folder"):
        adapt(config)
    # nor a folder holding it: --overwrite would clear or move it aside, the model with it
    config.output = str(tiny_static.parent)
    with pytest.raises(ConfigError, match="contains the model folder"):
        adapt(config)
    with pytest.raises(ConfigError, match="is the model folder itself"):
        repair_static(tiny_static, tiny_static, aliases=[])
    # nor a folder of other files: a repaired model replaces an earlier repaired model only
    notes = tmp_path / "mine" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("keep me", encoding="utf-8")
    with pytest.raises(XlingError, match="files that are not a repaired model"):
        repair_static(tiny_static, notes.parent, aliases=[])
    assert notes.read_text(encoding="utf-8") == "keep me"
    assert repair_static(tiny_static, tmp_path / "fixed", aliases=[]) == tmp_path / "fixed"
    repair_static(tiny_static, tmp_path / "fixed", aliases=[])  # an earlier repaired model: replaced
    assert Encoder.load(tiny_static) is not None
    # nor one holding a data file: it was moved aside with the folder, and reading it failed with a traceback
    output = tmp_path / "out"
    output.mkdir()
    inside = output / "dict.tsv"
    inside.write_bytes(Path(cipher_data["dictionary"]).read_bytes())
    config = small_config(tiny_static, output, dictionary=[f"eng-kat={inside}"])
    config.overwrite = True
    with pytest.raises(ConfigError, match="contains the --dictionary file"):
        adapt(config)
    assert inside.is_file()
    # a protected file inside it too; and a file name holding `=` is the file, not a `lang-lang=` spec
    config = small_config(tiny_static, output, dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.overwrite, config.vocabulary.protect = True, [str(inside)]
    with pytest.raises(ConfigError, match="contains the vocabulary.protect file"):
        adapt(config)
    from xling.adaptation.adapt import data_files

    named = data_files(
        small_config(tiny_static, output, dictionary=["out/x=dict.tsv", "eng-kat=d.tsv", "swadesh"])
    )
    assert [path for _, path in named] == ["out/x=dict.tsv", "d.tsv"]


def test_protected_sample_is_only_the_model_languages():
    from xling.adaptation.adapt import protected_texts

    texts = protected_texts(AdaptConfig(), ["eng", "deu"], "arb")
    assert set(texts) == set(sample_sentences("eng")) | set(sample_sentences("deu"))
    extra = AdaptConfig()
    extra.vocabulary.protect = [str(sample_corpus_dir() / "fra.tsv")]
    assert set(protected_texts(extra, ["eng"], "arb")) == set(sample_sentences("eng")) | set(
        sample_sentences("fra")
    )
    # a model that lists no languages protects every sample language but the new one
    assert not set(sample_sentences("ara")) & set(protected_texts(AdaptConfig(), [], "arb"))
    # nor does --replace protect the language it adapts again, by any of its codes
    assert set(protected_texts(AdaptConfig(), ["eng", "deu"], "de")) == set(sample_sentences("eng"))
    # a dialect added beside its standard language leaves the standard's sample protected (ara is arb's)
    assert set(sample_sentences("ara")) <= set(protected_texts(AdaptConfig(), ["eng", "arb"], "arz"))
    assert set(sample_sentences("ara")) <= set(protected_texts(AdaptConfig(), [], "arz"))
    assert not set(sample_sentences("zho")) & set(protected_texts(AdaptConfig(), ["eng", "cmn"], "zh"))


def test_replace_learns_from_the_languages_own_sample_text(tmp_path, tiny_static):
    """--replace of a sample language protected that language's own sample sentences, its very training
    text: `--language cmn --replace --parallel sample` found every piece it learnt protected."""
    config = small_config(tiny_static, tmp_path / "out", parallel=["sample"], replace=True)
    config.language, config.training.max_steps = "de", 2
    result = adapt(config)
    assert result.vocabulary["protected"] < result.vocabulary["learned"] // 4, result.vocabulary
    assert result.vocabulary["added"] > 0


def test_repair_replaces_characters_and_aliases_pieces_with_copied_rows(tmp_path, sample_tokenizer_dir):
    from xling.adaptation.repair import repair_static
    from xling.tokenization.normalization import alias_characters

    base = make_static_model(tmp_path / "base8", sample_tokenizer_dir, int8=True)
    tokenizer = Tokenizer.from_file(str(base / "0_StaticEmbedding" / "tokenizer.json"))
    # a made-up variant script: Georgian letters stand for the Latin letters the vocabulary has
    aliases = alias_characters(
        tokenizer, lambda char: char.translate(_UNCIPHER), [cipher(c) for c in "abcdef"]
    )
    assert len(aliases) == 6
    repaired = repair_static(base, tmp_path / "fixed", replacements={"ё": "е"}, aliases=aliases)
    old, new = Encoder.load(base), Encoder.load(repaired)
    texts = [s for s in sample_sentences("rus") if "ё" not in s]
    assert np.array_equal(old.encode(texts), new.encode(texts))
    assert np.array_equal(new.encode(["всё"]), old.encode(["все"]))
    decomposed = unicodedata.normalize("NFD", "всё")  # е + U+0308, which NFKC composes to ё
    assert decomposed != "всё" and np.array_equal(new.encode([decomposed]), old.encode(["все"]))
    from xling.embeddings.static import MODULE_DIR, StaticSentenceEncoder

    old_table = StaticSentenceEncoder.load(base / MODULE_DIR)
    new_table = StaticSentenceEncoder.load(repaired / MODULE_DIR)
    for char, _, source in aliases:  # each alias reads with an exact copy of its source's row
        row = new_table.embedding.weight[new_table.tokenizer.token_to_id(char)]
        assert torch.equal(row, old_table.embedding.weight[source])
    assert json.loads((repaired / "xling.json").read_text())["repairs"][0]["aliases"] == 6


_UNCIPHER = {0x10D0 + i: chr(ord("a") + i) for i in range(26)}


def test_pieces_outside_the_language_script_are_not_added(tiny_static):
    from xling.tokenization.vocabulary_extension import new_pieces

    base = Tokenizer.from_file(str(tiny_static / "0_StaticEmbedding" / "tokenizer.json"))
    # Latin-script noise in the made-up language's text (like English words in tweets) adds no Latin piece
    learned = [("▁ქართ", -5.0), ("▁quokkas", -6.0), ("ული", -7.0), ("▁ok123", -8.0), ("▁ბ-x", -9.0)]
    kept, known, capped, other, no_script = new_pieces(base, learned, limit=10, scripts=["Geor"])
    assert kept == [("▁ქართ", -5.0), ("ული", -7.0)]
    assert (known, capped, other, no_script) == (0, 0, 2, 0)  # "▁ბ-x" is not a clean piece at all


@pytest.mark.parametrize("scripts", [["Geor"], []])
def test_pieces_of_no_script_are_not_added(tiny_static, scripts):
    # emoji, symbols and digits are every language's: xling-mini's Arabic added ▁😂, |, × from the tweets,
    # and English text with them then read Arabic's rows (its xling.json said "other_texts": "kept")
    from xling.tokenization.vocabulary_extension import has_script, new_pieces

    base = Tokenizer.from_file(str(tiny_static / "0_StaticEmbedding" / "tokenizer.json"))
    learned = [("▁😂", -4.0), ("▁ქართ", -5.0), ("×", -5.5), ("▁\u20e3", -6.0), ("▁12", -6.5), ("ა1", -7.0)]
    kept, _, _, _, no_script = new_pieces(base, learned, limit=10, scripts=scripts)
    assert [piece for piece, _ in kept] == ["▁ქართ", "ა1"]
    assert no_script == 4
    # Arabic's comma and semicolon are Common, but only Arabic-script languages write them (Script_Extensions)
    assert has_script("،") and has_script("▁؛") and not has_script("|") and not has_script("▁..")
    # and another script's punctuation is no piece of the language: `、` and `·` passed for Arabic
    from xling.tokenization.vocabulary_extension import in_scripts

    assert [in_scripts(piece, ["Arab"]) for piece in ("▁،", "▁مرحبا،", "▁、", "·", "▁।")] == [True, True] + [
        False
    ] * 3
    assert in_scripts("▁、", ["Jpan"]) and in_scripts("▁।", ["Deva"]) and in_scripts("ა1", ["Geor"])
    # Simplified or Traditional asked: Han characters are one Unicode script (Hant kept no Han piece at all)
    assert (
        in_scripts("▁國家", ["Hant"]) and in_scripts("▁国家", ["Hans"]) and in_scripts("▁東京です", ["Jpan"])
    )
    assert not in_scripts("▁abc", ["Hant"])


def test_text_alone_is_a_clear_error_for_a_static_encoder(tmp_path, tiny_static, cipher_data):
    with pytest.raises(ConfigError, match="--dictionary or --parallel"):
        adapt(small_config(tiny_static, tmp_path / "out", text=[str(cipher_data["text"])]))


def test_unprotected_old_rows_train_only_when_asked_and_protected_vectors_stay_bit_identical(
    tmp_path, tiny_static, cipher_data
):
    from xling.embeddings.static import MODULE_DIR, StaticSentenceEncoder

    sources = {
        "dictionary": [f"eng-kat={cipher_data['dictionary']}"],
        "parallel": [str(cipher_data["parallel"])],
    }
    off = adapt(small_config(tiny_static, tmp_path / "off", **sources))
    on_config = small_config(tiny_static, tmp_path / "on", **sources)
    on_config.static.train_unprotected_old_rows = True
    on = adapt(on_config)

    old, new = Encoder.load(tiny_static), Encoder.load(on.output)
    for lang in OLD_LANGUAGES:  # the bundled sample of the model's languages is always protected
        texts = sample_sentences(lang)
        assert np.array_equal(old.encode(texts), new.encode(texts)), lang
    base_rows = StaticSentenceEncoder.load(tiny_static / MODULE_DIR).embedding.weight.detach()
    off_rows, on_rows = (StaticSentenceEncoder.load(r.output / MODULE_DIR).embedding.weight.detach()[: len(base_rows)]
                         for r in (off, on))  # fmt: skip
    assert torch.equal(off_rows, base_rows)  # off: no old row moves
    changed = torch.nonzero((on_rows != base_rows).any(dim=1)).flatten()
    trained = on.vocabulary["old_rows_trained"]
    assert 0 < len(changed) <= trained and off.vocabulary["old_rows_trained"] == 0
    meta = json.loads((on.output / "xling.json").read_text())
    assert meta["adaptations"][0]["vocabulary"]["old_rows_trained"] == trained
    # every changed row is one the new language's text uses and no old-language sample sentence does
    tokenizer = Tokenizer.from_file(str(on.output / MODULE_DIR / "tokenizer.json"))
    protected = {
        i for lang in OLD_LANGUAGES for e in tokenizer.encode_batch(sample_sentences(lang)) for i in e.ids
    }
    used = {
        i for e in tokenizer.encode_batch([cipher(s) for s in sample_sentences("eng")[:200]]) for i in e.ids
    }
    assert set(changed.tolist()) <= used - protected


def test_a_dictionary_the_base_was_trained_on_is_a_warning(tmp_path, sample_tokenizer_dir, cipher_data):
    from xling.artifacts import read_metadata, write_metadata

    base = make_static_model(tmp_path / "base", sample_tokenizer_dir)
    spec = f"eng-kat={cipher_data['dictionary']}"
    config = small_config(base, tmp_path / "fresh", dictionary=[spec])
    config.training.max_steps = 2
    assert not [w for w in adapt(config).warnings if "trained on this file" in w]

    # the base's own training config names the same file (as xling-mini's names the en-tr train split)
    write_metadata(base, {**read_metadata(base), "config": {"data": {"pairs": [spec]}}})
    config.output = str(tmp_path / "seen")
    warnings = [w for w in adapt(config).warnings if "trained on this file" in w]
    assert len(warnings) == 1 and warnings[0].startswith(f"{cipher_data['dictionary']}:"), warnings
    meta = json.loads((tmp_path / "seen" / "xling.json").read_text())
    assert meta["adaptations"][0]["warnings"] == warnings


@pytest.mark.parametrize("content", ['[{"type": ', '{"type": "x"}'])
def test_a_broken_modules_json_names_the_file(tmp_path, tiny_static, cipher_data, content):
    from xling.errors import DataError

    (tiny_static / "modules.json").write_text(content, encoding="utf-8")
    config = small_config(tiny_static, tmp_path / "out", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    with pytest.raises(DataError, match="modules.json"):
        adapt(config)


@pytest.mark.parametrize("with_parallel", [False, True])
def test_held_out_pairs_teach_nothing(tmp_path, tiny_static, cipher_data, monkeypatch, with_parallel):
    """Dev pairs seed no row and gloss no text (dictionary dev), and a held-out sentence is not trained on
    as a text sentence (parallel dev): the after-figure is of pairs the model never learnt from."""
    from xling.adaptation import static

    seen: dict[str, list] = {"seeds": [], "glosses": [], "examples": []}
    initial_rows, translations, build = static.initial_rows, static.translations, static.build_examples

    def spy_rows(tokenizer, rows, pieces, dictionary, *rest, **options):
        seen["seeds"] += dictionary
        return initial_rows(tokenizer, rows, pieces, dictionary, *rest, **options)

    def spy_translations(dictionary, *rest):
        seen["glosses"] += dictionary
        return translations(dictionary, *rest)

    def spy_build(data, tokenizer, dev_share, seed, prompt="", **options):
        train_set, dev_set, pivots = build(data, tokenizer, dev_share, seed, prompt, **options)
        seen["examples"] = list(zip(train_set.texts, train_set.kind, strict=True))
        seen["held"] = static.held_out_pairs(data, dev_share, seed)
        return train_set, dev_set, pivots

    monkeypatch.setattr(static, "initial_rows", spy_rows)
    monkeypatch.setattr(static, "translations", spy_translations)
    monkeypatch.setattr(static, "build_examples", spy_build)
    config = small_config(tiny_static, tmp_path / "adapted", dictionary=[f"eng-kat={cipher_data['dictionary']}"],
                          parallel=[str(cipher_data["parallel"])] if with_parallel else [],
                          text=[str(cipher_data["text"])], dev_share=0.2)  # fmt: skip
    config.training.max_steps = 2
    adapt(config)
    held = seen["held"]
    assert len(held) > 10
    if with_parallel:  # the held-out sentences are in the text file too, yet never trained on
        assert not {new for new, _ in held} & {text for text, kind in seen["examples"] if kind == "text"}
    else:  # held out by word: no translation of a held-out word seeds, glosses or trains (acı: pain, suffered)
        held_words = {new for new, _ in held}
        assert not {new for _, new in seen["seeds"] + seen["glosses"]} & held_words
        assert not {text for text, kind in seen["examples"] if kind == "dictionary"} & held_words
        assert seen["seeds"] and seen["glosses"]


def test_a_crash_while_saving_leaves_no_finished_model(tmp_path, tiny_static, cipher_data, monkeypatch):
    """xling.json marks a finished model: a resumed run that breaks while writing its files leaves none."""
    from tokenizers import Tokenizer as RealTokenizer

    config = small_config(
        tiny_static, tmp_path / "adapted", dictionary=[f"eng-kat={cipher_data['dictionary']}"]
    )
    config.training.max_steps = 2
    adapt(config)
    assert (tmp_path / "adapted" / "xling.json").is_file()

    def broken_save(self, path, pretty=True):
        raise OSError("disk full")

    monkeypatch.setattr(RealTokenizer, "save", broken_save, raising=False)
    config.resume = True
    with pytest.raises(OSError, match="disk full"):
        adapt(config)
    assert not (tmp_path / "adapted" / "xling.json").exists()


def _hindi_model(tmp_path, sample_tokenizer_dir):
    """Return a tiny static model that lists Hindi, and Hindi's sample sentences written in Gujarati letters
    (a made-up sister language of it)."""
    from xling.adaptation.transliteration import transliterate
    from xling.artifacts import write_metadata

    base = make_static_model(tmp_path / "base", sample_tokenizer_dir)
    write_metadata(
        base, {"name": "base", "kind": "sentence-encoder/static", "languages": [*OLD_LANGUAGES, "hin"]}
    )
    hindi = sample_sentences("hin")
    return base, hindi, [transliterate(text, "Deva", "Gujr") for text in hindi]


def test_a_relative_in_a_sister_script_seeds_the_new_rows_and_teaches_from_text_alone(
    tmp_path, sample_tokenizer_dir
):
    base, hindi, sister = _hindi_model(tmp_path, sample_tokenizer_dir)
    text = tmp_path / "guj.txt"
    text.write_text("".join(f"{line}\n" for line in sister), encoding="utf-8")
    old = Encoder.load(base)
    # read raw, the Gujarati letters are unknown to the model: nothing to tell sentences apart by
    assert retrieval_accuracy(old.encode(sister), old.encode(hindi)).average < 0.2

    config = AdaptConfig(model=str(base), language="guj", output=str(tmp_path / "out"), text=[str(text)],
                         relative="hin")  # fmt: skip
    config.vocabulary.max_new, config.vocabulary.learn_size = 400, 800
    config.training.max_steps = 1  # the starting rows alone
    config.training.threads = 1
    result = adapt(config)
    assert result.vocabulary["initialised"]["transliterated"] > 50
    assert result.examples["train_transliteration"] > 200
    # the rows start from the Hindi pieces that spell each transliterated piece
    assert retrieval_accuracy(Encoder.load(result.output).encode(sister), old.encode(hindi)).average > 0.5

    config.training.max_steps, config.training.batch_size, config.overwrite = 60, 64, True
    new = Encoder.load(adapt(config).output)
    meta = json.loads((tmp_path / "out" / "xling.json").read_text())
    assert meta["adaptations"][-1]["relative"] == "hin, Gujr>Deva"
    # each sister sentence lands on its Hindi original, which the old model reads as it always did
    assert retrieval_accuracy(new.encode(sister), old.encode(hindi)).average > 0.9
    assert np.array_equal(old.encode(hindi), new.encode(hindi))

    with pytest.raises(ConfigError, match="--dictionary or --parallel"):  # no relative: nothing to align to
        adapt(AdaptConfig(model=str(base), language="guj", output=str(tmp_path / "plain"), text=[str(text)]))


@pytest.mark.parametrize(("relative", "message"), [("mal", "does not list mal"), ("rus", "no script known"),
                                                   ("rus_Cyrl", "Gujr cannot be transliterated into Cyrl"),
                                                   ("hin_Gujr", "both written in Gujr")])  # fmt: skip
def test_a_relative_that_cannot_serve_names_the_field(tmp_path, sample_tokenizer_dir, relative, message):
    base, _, sister = _hindi_model(tmp_path, sample_tokenizer_dir)
    text = tmp_path / "guj.txt"
    text.write_text("".join(f"{line}\n" for line in sister), encoding="utf-8")
    config = AdaptConfig(model=str(base), language="guj", output=str(tmp_path / "out"), text=[str(text)],
                         relative=relative)  # fmt: skip
    with pytest.raises(ConfigError, match=f"relative: .*{message}"):
        adapt(config)


def test_held_out_texts_get_no_transliteration_example(tmp_path, sample_tokenizer_dir):
    from xling.adaptation.data import AdaptData
    from xling.adaptation.transliteration import transliterate

    base, _, sister = _hindi_model(tmp_path, sample_tokenizer_dir)
    english = sample_sentences("eng")
    data = AdaptData("guj", "eng", texts=list(sister), lemmas=[None] * len(sister),
                     parallel=list(zip(english, sister, strict=True)),
                     reading=lambda text: transliterate(text, "Gujr", "Deva"))  # fmt: skip
    tokenizer = Tokenizer.from_file(str(base / "0_StaticEmbedding" / "tokenizer.json"))
    train_set, dev_set, _ = static_build_examples(data, tokenizer, 0.2, 0)
    taught = {t for t, kind in zip(train_set.texts, train_set.kind, strict=True) if kind == "transliteration"}
    assert len(dev_set.texts) > 30
    assert taught and not taught & set(dev_set.texts)


def test_clause_pairs_are_cut_from_training_pairs_only(sample_tokenizer_dir):
    from xling.adaptation.data import AdaptData
    from xling.alignment.sentences.clauses import ClauseSplit, clause_pairs

    english = sample_sentences("eng")
    # two sentences a pair: each has at least two clauses to pair
    pairs = [(f"{a} {b}", cipher(f"{a} {b}")) for a, b in zip(english[::2], english[1::2], strict=False)]
    data = AdaptData("kat", "eng", texts=[], lemmas=[], parallel=pairs)
    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    plain, dev, _ = static_build_examples(data, tokenizer, 0.3, 0)
    cut, cut_dev, _ = static_build_examples(data, tokenizer, 0.3, 0, "", "", False, ClauseSplit(8))
    assert cut_dev.texts == dev.texts and len(dev.texts) > 20
    held = set(dev.texts)
    # exactly the clauses of the training pairs: none of a held-out pair's
    clauses = [part for pivot, new in pairs if new not in held for _, part in clause_pairs(pivot, new)]
    assert len(clauses) > 100
    assert cut.texts == plain.texts + clauses
    assert set(cut.kind) == {"parallel"}
    # a held-out sentence given again with another translation: that pair is not held out, but its clauses
    # are the held-out sentence's and must not train either
    again = [(pivot.replace(" ", "  ", 1), new) for pivot, new in pairs if new in held]  # spaced otherwise
    data = AdaptData("kat", "eng", texts=[], lemmas=[], parallel=pairs + again)
    twice, twice_dev, _ = static_build_examples(data, tokenizer, 0.3, 0, "", "", False, ClauseSplit(8))
    held_clauses = {part for pivot, new in again for _, part in clause_pairs(pivot, new)}
    trained_clauses = {
        part for pivot, new in pairs if new not in held for _, part in clause_pairs(pivot, new)
    }
    assert len(held_clauses - trained_clauses) > 100  # ("please." ends training sentences too)
    assert not (held_clauses - trained_clauses) & set(twice.texts)


def static_build_examples(*args):
    from xling.adaptation.static import build_examples

    return build_examples(*args)


def test_transliteration_examples_train_by_default_only_without_pairs():
    from xling.adaptation.static import AdaptBatches, Examples

    def kinds_drawn(kinds: list[str], weights: dict[str, float]) -> list[str]:
        examples = Examples(texts=kinds, ids=[[i] for i in range(len(kinds))], target=list(range(len(kinds))),
                            kind=kinds)  # fmt: skip
        return AdaptBatches(examples, weights, batch_size=4, seed=0).kinds

    paired = ["parallel", "dictionary", "transliteration", "transliteration"]
    assert kinds_drawn(paired, {}) == ["parallel", "dictionary"]
    assert kinds_drawn(paired, {"transliteration": 0.5}) == ["parallel", "dictionary", "transliteration"]
    assert kinds_drawn(["text", "transliteration"], {}) == ["text"]  # glossed text is paired with words
    assert kinds_drawn(["transliteration"] * 3, {}) == ["transliteration"]
    # pairs the user switched off do not count as pairs
    assert kinds_drawn(paired, {"parallel": 0, "dictionary": 0}) == ["transliteration"]


def _files(folder: Path) -> dict[Path, bytes]:
    """Return every file under `folder` (relative path -> content)."""
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_folder_of_other_files_is_refused_even_with_overwrite(tmp_path, tiny_static, cipher_data):
    output = tmp_path / "mine"
    output.mkdir()
    (output / "thesis.txt").write_text("precious", encoding="utf-8")
    config = small_config(tiny_static, output, dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    for overwrite in (False, True):
        config.overwrite = overwrite
        with pytest.raises(
            XlingError, match=r"mine: the folder is not empty \(thesis\.txt\) and holds no model"
        ):
            adapt(config)
    assert [p.name for p in output.iterdir()] == ["thesis.txt"]


def test_resume_refuses_a_model_without_its_run(tmp_path, tiny_static, cipher_data):
    """With no checkpoints or saved vocabulary, --resume would start afresh and replace the model there."""
    output = tmp_path / "out"
    shutil.copytree(tiny_static, output)
    before = _files(output)
    config = small_config(
        tiny_static, output, resume=True, dictionary=[f"eng-kat={cipher_data['dictionary']}"]
    )
    config.training.max_steps = 2
    with pytest.raises(
        XlingError, match=r"out: a model is already there and no adapt run to resume.*--overwrite"
    ):
        adapt(config)
    assert _files(output) == before


def test_an_overwrite_after_a_killed_one_keeps_the_model_it_set_aside(tmp_path, tiny_static, cipher_data):
    output, aside = tmp_path / "out", tmp_path / ".out.replaced"
    config = small_config(tiny_static, output, dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.training.max_steps = 2
    adapt(config)
    saved = _files(output)
    # an --overwrite run killed while training: the model set aside, the new run's progress in its place
    output.replace(aside)
    (output / "vocabulary").mkdir(parents=True)
    (output / "vocabulary" / "tokenizer.json").write_text("{}", encoding="utf-8")
    config.overwrite = True
    config.static.weights = {"dictionary": 0.0}  # refused once the data is built, the output set aside
    with pytest.raises(ConfigError, match=r"static\.weights"):
        adapt(config)
    assert _files(output) == saved and not aside.exists()
    # a model in both places: which to keep is the user's call, and nothing is touched
    shutil.copytree(output, aside)
    with pytest.raises(
        XlingError, match=r"\.out\.replaced: the model an interrupted --overwrite run set aside"
    ):
        adapt(config)
    assert _files(output) == saved and _files(aside) == saved


def test_no_new_pieces_is_a_clear_error_that_leaves_no_folder(tmp_path, tiny_static, cipher_data):
    output = tmp_path / "out"
    config = small_config(tiny_static, output, dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.vocabulary.max_new = 0
    with pytest.raises(ConfigError, match=r"vocabulary\.max_new: 0 .*no new pieces to train"):
        adapt(config)
    assert not output.exists()
    config.vocabulary.max_new = 400
    config.vocabulary.scripts = ["Grek"]  # every piece learned on the Georgian-letter data is left out
    with pytest.raises(
        DataError, match=r"no new pieces to train: of the \d+ pieces learned.*outside the language"
    ):
        adapt(config)
    assert not output.exists()


def test_nothing_to_train_or_no_place_for_the_output_is_said_before_anything_is_written(
    tmp_path, tiny_static, cipher_data
):
    """Every kind weighing 0 was refused after the vocabulary was saved (a corrected rerun then found "an
    unfinished adapt run"), and an output below a file failed at the save, after the vocabulary was learnt."""
    output = tmp_path / "out"
    config = small_config(tiny_static, output, dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.static.weights = {"dictionary": 0.0}
    with pytest.raises(ConfigError, match=r"static\.weights: every kind of example there is \(dictionary\)"):
        adapt(config)
    assert not output.exists()
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    config = small_config(
        tiny_static, tmp_path / "afile" / "out", dictionary=[f"eng-kat={cipher_data['dictionary']}"]
    )
    with pytest.raises(DataError, match=r"afile is a file, so no folder can be made there"):
        adapt(config)


def test_a_killed_run_is_pointed_to_resume(tmp_path, tiny_static, cipher_data):
    output = tmp_path / "out"
    (output / "vocabulary").mkdir(parents=True)
    (output / "vocabulary" / "tokenizer.json").write_text("{}", encoding="utf-8")
    config = small_config(tiny_static, output, dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    with pytest.raises(
        XlingError, match=r"unfinished adapt run is there \(vocabulary\); pass resume \(--resume\)"
    ):
        adapt(config)


def test_new_pieces_in_an_old_language_script_are_a_warning_and_recorded():
    from xling.adaptation.static import old_language_changes

    record, warning = old_language_changes(["▁kitap", "lar"], ["the book", "das Buch"], 0)
    assert record["other_texts"] == "may move" and record["shared_scripts"] == ["Latn"]
    assert warning is not None and "Latn" in warning and "vocabulary.protect" in warning
    record, warning = old_language_changes([cipher("▁book")], ["the book"], 0)
    assert record["other_texts"] == "kept" and warning is None
    record, warning = old_language_changes([cipher("▁book")], ["the book"], 3)
    assert record["other_texts"] == "may move" and record["old_rows_trained"] == 3 and warning is None


def test_an_old_language_none_of_whose_text_is_protected_still_counts_by_its_script(
    tmp_path, sample_tokenizer_dir, cipher_data
):
    """Yiddish added to a model listing Hebrew, which the bundled sample lacks: Hebrew text did move, with
    no warning, and xling.json said "kept". Here Mingrelian next to a listed Georgian (`ka`)."""
    from xling.adaptation.static import old_language_changes

    record, warning = old_language_changes(["▁ספר"], ["the book"], 0, ["eng", "heb"])
    assert record["other_texts"] == "may move" and record["shared_scripts"] == ["Hebr"] and warning
    record, warning = old_language_changes(["▁本"], ["the book"], 0, ["jpn", "xx-unknown", "und"])
    assert record["shared_scripts"] == ["Hani"] and warning  # Japanese text writes Han characters too
    base = make_static_model(tmp_path / "base", sample_tokenizer_dir)
    meta = json.loads((base / "xling.json").read_text())
    (base / "xling.json").write_text(json.dumps({**meta, "languages": [*OLD_LANGUAGES, "ka"]}), "utf-8")
    config = small_config(base, tmp_path / "out", dictionary=[str(cipher_data["dictionary"])])
    config.language, config.training.max_steps = "xmf", 2
    result = adapt(config)
    assert result.old_languages["other_texts"] == "may move" and result.old_languages["shared_scripts"] == [
        "Geor"
    ]
    assert any("in Geor, a script of the old languages too" in w for w in result.warnings), result.warnings
    saved = json.loads((result.output / "xling.json").read_text())
    assert saved["adaptations"][-1]["old_languages"]["other_texts"] == "may move"
    assert saved["languages"] == [*OLD_LANGUAGES, "ka", "xmf"]
    # --replace of the listed language under another code: listed once, as it was, and its own script is
    # no old language's (nothing else listed writes Georgian)
    config = small_config(base, tmp_path / "again", dictionary=[str(cipher_data["dictionary"])])
    config.language, config.replace, config.training.max_steps = "kat", True, 2
    result = adapt(config)
    assert json.loads((result.output / "xling.json").read_text())["languages"] == [*OLD_LANGUAGES, "ka"]
    assert result.old_languages["other_texts"] == "kept"
    # its rows from before stay frozen, which --replace said nowhere (a rerun changed one new piece)
    assert any(w.startswith("replace: the rows the model has for kat stay") for w in result.warnings)


def test_a_dictionary_word_is_held_out_with_every_translation_it_has():
    from xling.adaptation import static
    from xling.adaptation.data import AdaptData

    words = [f"w{i}" for i in range(400)]
    dictionary = [(f"sense{k}-{w}", w) for w in words for k in range(2)]  # two translations a word
    data = AdaptData(language="kat", pivot="eng", dictionary=dictionary)
    held = static.held_out_pairs(data, 0.2, seed=0)
    held_words = {new for new, _ in held}
    assert 40 < len(held_words) < 120 and len(held) == 2 * len(held_words)  # both senses of each, or neither
    assert not {new for _, new in static._train_dictionary(data, held)} & held_words


def test_a_batch_spelled_with_frozen_rows_only_still_gives_a_loss_to_step_on():
    """A language close to an old one (or --replace) has few new pieces: some batches use none of them, and
    their loss had no graph (backward raised 'element 0 of tensors does not require grad')."""
    from xling.adaptation.static import AdaptationObjective, ExtendedStaticEncoder
    from xling.embeddings.static import bag_features

    encoder = ExtendedStaticEncoder(torch.randn(10, 4), torch.randn(2, 4))
    objective = AdaptationObjective(
        encoder, torch.nn.functional.normalize(torch.randn(3, 4), dim=1), 20.0, 0.0
    )
    batch = {**bag_features([[1, 2], [3], [4, 5, 6]]), "target": torch.tensor([0, 1, 2])}
    loss = objective(batch)["loss"]
    loss.backward()
    assert encoder.added.weight.grad is None or encoder.added.weight.grad.coalesce().values().abs().sum() == 0
    batch = {**bag_features([[1, 10], [3], [11]]), "target": torch.tensor([0, 1, 2])}
    encoder.added.weight.grad = None
    objective(batch)["loss"].backward()
    assert encoder.added.weight.grad.coalesce().values().abs().sum() > 0


def test_a_warning_of_the_run_is_logged_as_it_arises_and_kept_in_the_result(tmp_path, tiny_static):
    """The CLI prints what is logged and not result.warnings again, so a warning found after the data was
    read (new pieces in the old languages' script) must be logged too, once."""
    import logging

    config = small_config(tiny_static, tmp_path / "out", parallel=["sample"])
    config.language, config.training.max_steps = "swa", 2  # Swahili: new pieces in Latin letters
    logged: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = logged.append  # type: ignore[method-assign]
    logger = logging.getLogger("xling.adaptation")  # not caplog: the CLI's tests stop xling's propagation
    logger.addHandler(handler)
    try:
        warnings = adapt(config).warnings
    finally:
        logger.removeHandler(handler)
    shared = [w for w in warnings if "a script of the old languages too" in w]
    assert len(shared) == 1, warnings
    assert [record.getMessage() for record in logged] == warnings


def test_the_base_models_default_prompt_stays_with_the_adapted_one(tmp_path, tiny_static, cipher_data):
    import json
    import shutil

    from xling.embeddings.encoder import Encoder

    base = tmp_path / "prompted"
    shutil.copytree(tiny_static, base)
    prompts = {"prompts": {"query": "query: "}, "default_prompt_name": "query"}
    (base / "config_sentence_transformers.json").write_text(json.dumps(prompts), encoding="utf-8")
    result = adapt(small_config(base, tmp_path / "adapted", text=[str(cipher_data["text"])],
                                dictionary=[f"eng-kat={cipher_data['dictionary']}"]))  # fmt: skip
    assert Encoder.load(str(result.output)).module.prompt == "query: "
    # trained as it is read: new texts with the prompt before them, as the pivot texts' vectors are
    from xling.adaptation.data import AdaptData
    from xling.adaptation.static import build_examples

    tokenizer = Encoder.load(str(result.output)).module.tokenizer
    prompt_ids = tokenizer.encode("query: ", add_special_tokens=False).ids
    data = AdaptData(language="kat", pivot="eng", parallel=[("house", "სახლი")])
    train_set, _, _ = build_examples(data, tokenizer, 0.0, 0, "query: ")
    assert prompt_ids and train_set.ids[0][: len(prompt_ids)] == prompt_ids
    # the prompt's rows serve every protected text too: never "unprotected" old rows to train
    from xling.adaptation.static import unprotected_old_rows

    old_size = Encoder.load(str(base)).module.tokenizer.get_vocab_size()
    protected = ["The house is big."]
    assert set(prompt_ids) & set(unprotected_old_rows(tokenizer, train_set.ids, protected, old_size).tolist())
    rows = unprotected_old_rows(tokenizer, train_set.ids, protected, old_size, "query: ")
    assert not set(prompt_ids) & set(rows.tolist())


def test_a_run_checkpointed_with_settings_as_written_resumes(tmp_path, tiny_static, cipher_data, monkeypatch):
    """Checkpoints written before settings were kept in one form hold them as given (`ka`, `dict.tsv`):
    the same command resumes them."""
    import json

    from xling.config import config_to_dict
    from xling.training.checkpoint import list_checkpoints

    monkeypatch.chdir(tmp_path)
    first = small_config(tiny_static, tmp_path / "parts", dictionary=["dict.tsv"])
    first.language = "ka"
    first.training.max_steps = 30
    adapt(first)
    state_file = list_checkpoints(tmp_path / "parts")[-1] / "trainer_state.json"
    state = json.loads(state_file.read_text("utf-8"))
    state["config"] = json.loads(json.dumps(config_to_dict(first), default=str))  # as written, `ka`
    state_file.write_text(json.dumps(state), "utf-8")
    (tmp_path / "parts" / "xling.json").unlink()
    resumed = small_config(tiny_static, tmp_path / "parts", resume=True, dictionary=["dict.tsv"])
    resumed.language = "ka"
    assert adapt(resumed).training["resumed_from"] == 30


def test_a_static_model_saved_by_sentence_transformers_6_is_adapted_in_its_own_layout(
    tmp_path, tiny_static, cipher_data
):
    """sentence-transformers 6 saves a StaticEmbedding at the folder's root under a new type name; such a
    base was refused as "not a static sentence encoder", then read from a 0_StaticEmbedding/ it lacks."""
    from sentence_transformers import SentenceTransformer

    base = tmp_path / "st6"
    SentenceTransformer(str(tiny_static), device="cpu").save(str(base))
    modules = json.loads((base / "modules.json").read_text())
    assert modules[0]["path"] == "" and modules[0]["type"] != "sentence_transformers.models.StaticEmbedding"

    config = small_config(base, tmp_path / "adapted", dictionary=[f"eng-kat={cipher_data['dictionary']}"])
    config.training.max_steps = 5
    result = adapt(config)
    assert json.loads((result.output / "modules.json").read_text()) == modules
    old, new = Encoder.load(base), Encoder.load(result.output)
    texts = sample_sentences("deu")
    assert np.array_equal(old.encode(texts), new.encode(texts))
    kat = [cipher(s) for s in sample_sentences("eng")[:5]]
    st = SentenceTransformer(str(result.output), device="cpu")
    assert np.allclose(st.encode(kat), new.encode(kat), atol=1e-6)


@pytest.mark.parametrize("first_from", ["text", "pairs"])
def test_a_second_language_in_the_same_script_keeps_the_first_ones_segmentation(
    tmp_path, tiny_static, cipher_data, first_from
):
    """A language added before is an old one for the next adaptation: a close relative in its script took
    its text apart with the relative's pieces (`▁λτ ια υθ` became `▁λτιαυθ`; all of 500 sentences), since only
    the bundled sample and `vocabulary.protect` were protected. The first adaptation's text files are now,
    and so are its pair files (a language added from pairs alone, as xling-mini's kat, tha and tam from a
    Swadesh list and the UDHR, had 188 of 200 sentences re-segmented in a review's run)."""
    import random

    if first_from == "text":
        data = {"text": [str(cipher_data["text"])]}
        sentences = cipher_data["text"].read_text("utf-8").splitlines()
    else:
        data = {"parallel": [f"eng-kat={cipher_data['parallel']}"]}
        sentences = [line.split("\t")[1] for line in cipher_data["parallel"].read_text("utf-8").splitlines()]
    first = adapt(small_config(tiny_static, tmp_path / "first", dictionary=[f"eng-kat={cipher_data['dictionary']}"],
                               **data)).output  # fmt: skip
    rng = random.Random(0)
    glued = []  # the relative: the same words, often run together with the next one
    for line in sentences:
        words, out = line.split(), []
        while words:
            out.append(words.pop(0) + (words.pop(0) if len(words) > 1 and rng.random() < 0.5 else ""))
        glued.append(" ".join(out))
    relative = tmp_path / "relative.txt"
    relative.write_text("\n".join(glued) + "\n", encoding="utf-8")
    config = small_config(first, tmp_path / "second", text=[str(relative)],
                          dictionary=[f"eng-xmf={cipher_data['dictionary']}"])  # fmt: skip
    config.language, config.training.max_steps = "xmf", 5
    second = adapt(config).output
    before = Tokenizer.from_file(str(first / "0_StaticEmbedding" / "tokenizer.json"))
    after = Tokenizer.from_file(str(second / "0_StaticEmbedding" / "tokenizer.json"))
    assert after.get_vocab_size() > before.get_vocab_size()  # the relative got pieces of its own
    assert [after.encode(line).ids for line in sentences] == [before.encode(line).ids for line in sentences]


def test_a_derived_model_keeps_the_bases_figures_as_the_bases():
    """An adapted or repaired model's xling.json held the base's Tatoeba scores and dev figures as its own,
    though its segmentation is not the base's."""
    from xling.adaptation.result import derived_metadata

    base = {"name": "xling-mini", "languages": ["deu"], "config": {"corpus": "bible"}, "scores": {"t": 55.9},
            "dev": {"dev_rus": 0.989}, "adaptations": [{"language": "tur"}]}  # fmt: skip
    meta = derived_metadata(base, "mine")
    assert meta == {"name": "mine", "languages": ["deu"], "config": {"corpus": "bible"},
                    "adaptations": [{"language": "tur"}],
                    "base_model_figures": {"scores": {"t": 55.9}, "dev": {"dev_rus": 0.989}}}  # fmt: skip
    assert base["scores"] == {"t": 55.9}  # the base's own record is left as it was
