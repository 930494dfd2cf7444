"""Taggers across languages: a toy language's tags predicted in a second toy language through shared word
vectors (frozen path), a tiny random XLM-R fine-tuned through the training loop (finetune path), save/load,
evaluation and errors."""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from xling.data.conllu import TaggedSentences, read_conllu
from xling.embeddings.static import StaticSentenceEncoder
from xling.errors import ConfigError, DataError, XlingError
from xling.training import TrainingConfig
from xling.transfer.tagging import (
    FinetunedTagger,
    FrozenTagger,
    TaggerConfig,
    TaggingBatches,
    data_files,
    encode_words,
    evaluate_tagger,
    load_tagger,
    render_tagging,
    train_tagger,
)

from .mounts import pretend_mount_point
from .toy import build_encoder

# tag -> (words of toy language A, words of toy language B); word i of both shares its vector
LEXICON = {
    "NOUN": (["dog", "cat", "house", "tree", "bird"], ["hund", "katze", "haus", "baum", "vogel"]),
    "VERB": (["runs", "sleeps", "eats", "sees", "sings"], ["rennt", "schlaeft", "isst", "sieht", "singt"]),
    "DET": (["the", "a", "this"], ["der", "ein", "dieser"]),
    "ADJ": (["big", "small", "red", "old"], ["gross", "klein", "rot", "alt"]),
    "ADV": (["quickly", "often"], ["schnell", "oft"]),
}
TEMPLATES = [
    ["DET", "NOUN", "VERB"],
    ["DET", "ADJ", "NOUN", "VERB", "ADV"],
    ["NOUN", "VERB", "DET", "NOUN"],
    ["ADJ", "NOUN", "VERB"],
    ["DET", "NOUN", "ADV", "VERB", "DET", "ADJ", "NOUN"],
    ["VERB", "ADV"],
]


def toy_sentences(side: int, n: int, seed: int, source: str = "toy", language: str | None = None):
    """Return n random toy sentences of language A (side 0) or B (side 1), each ending in "." (PUNCT)."""
    rng = random.Random(seed)
    words, tags = [], []
    for _ in range(n):
        template = rng.choice(TEMPLATES)
        words.append([rng.choice(LEXICON[tag][side]) for tag in template] + ["."])
        tags.append([*template, "PUNCT"])
    return TaggedSentences(words, tags, source, language, lines=[i + 1 for i in range(n)])


def build_static_encoder(folder: Path, shared: bool = True, dimension: int = 16) -> Path:
    """Write a static encoder whose A and B words share vectors (shared=False: B words get their own)."""
    generator = torch.Generator().manual_seed(0)
    vocab, rows = {"[UNK]": 0, ".": 1}, [torch.zeros(dimension), torch.randn(dimension, generator=generator)]
    for side_a, side_b in LEXICON.values():
        anchor = torch.randn(dimension, generator=generator)
        for a, b in zip(side_a, side_b, strict=True):
            row = anchor + 0.7 * torch.randn(dimension, generator=generator)
            vocab[a] = len(rows)
            rows.append(row)
            vocab[b] = len(rows)
            rows.append(row + 0.1 * torch.randn(dimension, generator=generator) if shared
                        else 2 * torch.randn(dimension, generator=generator))  # fmt: skip
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    StaticSentenceEncoder(tokenizer, torch.stack(rows)).save(folder)
    return folder


@pytest.fixture
def shared_encoder(tmp_path) -> Path:
    return build_static_encoder(tmp_path / "shared-encoder")


def frozen_config(encoder: Path, **changes) -> TaggerConfig:
    return TaggerConfig(method="frozen", encoder=str(encoder), **changes)


def accuracy(gold: TaggedSentences, predicted: list[list[str]]) -> float:
    pairs = [(g, p) for gs, ps in zip(gold.tags, predicted, strict=True) for g, p in zip(gs, ps, strict=True)]
    return 100 * sum(g == p for g, p in pairs) / len(pairs)


@pytest.mark.parametrize("options", [{}, {"context": 0, "shape_features": False}])
def test_frozen_tagger_learned_on_a_predicts_b_through_shared_vectors(shared_encoder, tmp_path, options):
    tagger = train_tagger(frozen_config(shared_encoder, **options), toy_sentences(0, 120, 1),
                          toy_sentences(0, 30, 2))  # fmt: skip
    target = toy_sentences(1, 60, 3)
    assert accuracy(target, tagger.predict(target.words)) >= 95
    assert tagger.labels == sorted([*LEXICON, "PUNCT"])
    # the control: the same task when B's words do not share A's vectors does not transfer
    control = build_static_encoder(tmp_path / "unshared", shared=False)
    unaligned = train_tagger(frozen_config(control, **options), toy_sentences(0, 120, 1))
    assert accuracy(target, unaligned.predict(target.words)) < 75


def test_regularisation_is_chosen_on_the_dev_set(shared_encoder):
    config = frozen_config(shared_encoder, c_values=[0.01, 1.0])
    tagger = train_tagger(config, toy_sentences(0, 80, 1), toy_sentences(0, 30, 2))
    by_c = tagger.meta["dev"]["accuracy_by_c"]
    assert set(by_c) == {"0.01", "1.0"}
    assert tagger.meta["c"] == max([0.01, 1.0], key=lambda c: (by_c[str(c)], -c))
    assert tagger.meta["dev"]["accuracy"] == pytest.approx(by_c[str(tagger.meta["c"])], abs=0.01)
    no_dev = train_tagger(frozen_config(shared_encoder, c=0.5), toy_sentences(0, 80, 1))
    assert no_dev.meta["c"] == 0.5 and no_dev.meta["dev"] is None
    # a dev set of mostly unknown tags is another tag scheme: refused, naming the first one's line
    dev = toy_sentences(0, 30, 2, source="a-dev.conllu")
    dev.tags[:] = [["INTJ"] * len(tags) for tags in dev.tags]
    with pytest.raises(DataError, match=r"a-dev\.conllu:1: gold tag 'INTJ'"):
        train_tagger(config, toy_sentences(0, 80, 1), dev)


def test_saved_frozen_tagger_reloads_with_equal_predictions(shared_encoder, tmp_path):
    out = tmp_path / "tagger"
    tagger = train_tagger(frozen_config(shared_encoder, output=str(out)), toy_sentences(0, 60, 1))
    assert isinstance(tagger, FrozenTagger)
    assert sorted(p.name for p in out.iterdir()) == ["head.safetensors", "xling.json"]
    meta = json.loads((out / "xling.json").read_text())
    assert meta["kind"] == "tagger/frozen" and meta["encoder"] == str(shared_encoder.resolve())
    assert meta["majority_tag"] == tagger.meta["majority_tag"]
    sentences = toy_sentences(1, 20, 5).words + [["hund"], ["unknown", "words", "."]]
    loaded = load_tagger(out)
    assert isinstance(loaded, FrozenTagger) and loaded.labels == tagger.labels
    assert loaded.predict(sentences) == tagger.predict(sentences)
    np.testing.assert_array_equal(loaded.coef, tagger.coef)
    with pytest.raises(Exception, match="already there"):
        tagger.save(out)
    tagger.save(out, overwrite=True)


def test_a_tagger_whose_encoder_was_replaced_by_another_model_is_refused(shared_encoder, tmp_path):
    out = tmp_path / "tagger"
    train_tagger(frozen_config(shared_encoder, output=str(out)), toy_sentences(0, 60, 1))
    shutil.rmtree(shared_encoder)
    build_encoder(shared_encoder, dimension=16, seed=1)  # another model of the same dimension, same path
    with pytest.raises(DataError, match=r"tagger: the encoder .* is not the one this tagger was trained on"):
        load_tagger(out)


def test_evaluate_tagger_rows_baseline_source_and_gap(shared_encoder):
    tagger = train_tagger(frozen_config(shared_encoder), toy_sentences(0, 100, 1))
    own = train_tagger(frozen_config(shared_encoder), toy_sentences(1, 100, 7))
    tests = {"eng": toy_sentences(0, 20, 8, "a.conllu"), "deu": toy_sentences(1, 20, 9, "b.conllu")}
    result = evaluate_tagger(tagger, tests, source_language="en", in_language={"deu": own}, model="toy")
    assert result.task == "pos" and result.primary == "accuracy" and result.model == "toy"
    assert list(result.scores) == ["deu"]  # the source language is scored outside the average
    row = result.scores["deu"]
    assert row["n"] == tests["deu"].tokens and row["accuracy"] >= 95
    counts = tests["deu"].tag_counts()
    assert (
        tagger.meta["majority_tag"]
        == max(toy_sentences(0, 100, 1).tag_counts().items(), key=lambda x: x[1])[0]
    )
    assert row["majority"] == pytest.approx(
        100 * counts[tagger.meta["majority_tag"]] / tests["deu"].tokens, abs=0.01
    )
    assert row["covered"] is None  # the toy encoder says nothing about its languages
    assert row["gap"] == pytest.approx(row["in_language"] - row["accuracy"], abs=0.01)
    assert result.settings["source"]["language"] == "eng" and result.average == row["accuracy"]
    tagger.meta["encoder_languages"] = ["cmn", "deu"]  # as xling-mini's xling.json lists them
    tests = {"zh": tests["deu"], "de": tests["deu"], "fi": tests["deu"], "german": tests["deu"]}
    covered = {lang: row["covered"] for lang, row in evaluate_tagger(tagger, tests).scores.items()}
    # "zh" (zho) is the macrolanguage of cmn; an English name is read as a code too
    assert covered == {"zh": True, "de": True, "fi": False, "german": True}
    text = render_tagging(result)
    assert "eng (source)" in text and "deu" in text and "zero-shot avg" in text
    with pytest.raises(ConfigError, match="test sets 'en' and 'english' are both the source language eng"):
        evaluate_tagger(
            tagger, {"en": tests["de"], "english": tests["de"], "de": tests["de"]}, source_language="en"
        )
    # the source named by its test set's key (a treebank's name): scored outside the average too
    by_key = evaluate_tagger(tagger, {"ewt": tests["de"], "gsd": tests["fi"]}, source_language="ewt")
    assert list(by_key.scores) == ["gsd"] and by_key.settings["source"]["language"] == "ewt"


def test_errors_name_the_field_file_or_line(shared_encoder, tmp_path):
    train = toy_sentences(0, 40, 1)
    tagger = train_tagger(frozen_config(shared_encoder), train)
    # a tag the source treebank lacks (French GSD has no PART) is a tagging error, counted, not a refusal
    gap = toy_sentences(1, 5, 2, source="de-test.conllu")
    gap.tags[3][0] = "INTJ"
    row = evaluate_tagger(tagger, {"deu": gap}).scores["deu"]
    assert row["unknown_gold_tags"] == 1
    assert row["accuracy"] <= round(100.0 * (gap.tokens - 1) / gap.tokens, 2)  # the unknown one is wrong
    # mostly unknown tags: another tag scheme, refused naming the first one
    bad = toy_sentences(1, 5, 2, source="de-test.conllu")
    bad.tags[:] = [["INTJ"] * len(tags) for tags in bad.tags]
    bad.tags[0][0] = tagger.labels[0]  # the first unknown one is the sentence's second word
    word = re.escape(repr(bad.words[0][1]))
    with pytest.raises(
        DataError,
        match=rf"de-test\.conllu:1: gold tag 'INTJ' \(sentence 1, which starts here; word 2, {word}\)",
    ):
        evaluate_tagger(tagger, {"deu": bad})
    with pytest.raises(DataError, match="not one string"):
        tagger.predict("der hund rennt")
    with pytest.raises(DataError, match="sentence 1 has no words"):
        tagger.predict([["hund"], []])
    with pytest.raises(DataError, match="sentence 0, word 1"):
        tagger.predict([["hund", "  "]])
    with pytest.raises(DataError, match="1 distinct tag"):
        train_tagger(frozen_config(shared_encoder), TaggedSentences([["a", "b"]], [["X", "X"]], "one.conllu"))
    with pytest.raises(ConfigError, match="method"):
        train_tagger(TaggerConfig(method="magic"), train)
    with pytest.raises(ConfigError, match="context"):
        train_tagger(frozen_config(shared_encoder, context=-1), train)
    with pytest.raises(ConfigError, match="output: fine-tuning needs"):
        train_tagger(TaggerConfig(method="finetune", encoder=str(shared_encoder)), train)
    with pytest.raises(ConfigError, match="not a Hugging Face transformer folder"):
        train_tagger(TaggerConfig(method="finetune", encoder=str(shared_encoder), output=str(tmp_path / "o")),
                     train)  # fmt: skip
    with pytest.raises(DataError, match="no such tagger folder"):
        load_tagger(tmp_path / "missing")
    with pytest.raises(DataError, match="not a saved xling tagger"):
        load_tagger(shared_encoder)


def test_a_conllu_file_trains_and_a_wrong_column_count_is_refused(shared_encoder, tmp_path):
    lines = []
    for words, tags in zip(*(lambda d: (d.words, d.tags))(toy_sentences(0, 30, 1)), strict=True):
        lines += [
            f"{i}\t{w}\t{w}\t{t}\t_\t_\t0\tdep\t_\t_"
            for i, (w, t) in enumerate(zip(words, tags, strict=True), 1)
        ]
        lines.append("")
    path = tmp_path / "a-ud-train.conllu"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tagger = train_tagger(frozen_config(shared_encoder), read_conllu(path))
    target = toy_sentences(1, 20, 3)
    assert accuracy(target, tagger.predict(target.words)) >= 95
    lines[1] = lines[1].rsplit("\t", 1)[0]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a-ud-train\.conllu:2: .*9 tab-separated columns, expected 10"):
        read_conllu(path)


# --- fine-tuning ------------------------------------------------------------------------------------------


def finetune_config(encoder: Path, output: Path, steps: int = 400, **changes) -> TaggerConfig:
    training = TrainingConfig(max_steps=steps, batch_size=16, lr=5e-3, warmup_steps=20, eval_every=100,
                              checkpoint_every=100, best_metric="dev_accuracy", device="cpu",
                              precision="fp32", threads=1)  # fmt: skip
    return TaggerConfig(
        method="finetune", encoder=str(encoder), output=str(output), training=training, **changes
    )


@pytest.fixture(scope="module")
def finetuned(tiny_xlmr, tmp_path_factory):
    output = tmp_path_factory.mktemp("finetuned") / "tagger"
    tagger = train_tagger(
        finetune_config(tiny_xlmr, output), toy_sentences(0, 200, 1), toy_sentences(0, 30, 2)
    )
    return tagger, output


def test_finetuned_tagger_learns_the_toy_language_with_the_best_dev_checkpoint(finetuned):
    tagger, output = finetuned
    assert isinstance(tagger, FinetunedTagger)
    test = toy_sentences(0, 40, 4)
    assert accuracy(test, tagger.predict(test.words)) >= 90
    best = tagger.meta["training"]["best"]
    assert best["metric"] == "dev_accuracy" and (output / "best").is_dir()
    assert tagger.meta["dev"]["accuracy"] == pytest.approx(best["value"], abs=0.01)


def test_finetuned_folder_loads_with_plain_transformers_and_load_tagger(finetuned):
    from transformers import AutoModelForTokenClassification

    tagger, output = finetuned
    model = AutoModelForTokenClassification.from_pretrained(output)
    assert model.config.id2label == dict(enumerate(tagger.labels))
    assert model.config.label2id == {label: i for i, label in enumerate(tagger.labels)}
    assert json.loads((output / "xling.json").read_text())["kind"] == "tagger/finetune"
    assert not list(output.glob("*.bin")) and not list(output.glob("*.pkl"))
    loaded = load_tagger(output)
    assert isinstance(loaded, FinetunedTagger)
    sentences = toy_sentences(0, 20, 6).words + toy_sentences(1, 5, 6).words
    assert loaded.predict(sentences) == tagger.predict(sentences)


def test_labels_go_on_the_first_sub_token_only(finetuned):
    tagger, _ = finetuned
    words, tags = ["unbelievably", "dog", "."], ["ADV", "NOUN", "PUNCT"]
    ids, labels, word_ids = encode_words(tagger.tokenizer, words, tags, {"ADV": 0, "NOUN": 1, "PUNCT": 2}, 64)
    assert len(ids) == len(labels) == len(word_ids)
    assert word_ids.count(0) > 1  # the word is split, so the test means something
    firsts = [i for i, w in enumerate(word_ids) if w is not None and (i == 0 or word_ids[i - 1] != w)]
    assert [labels[i] for i in firsts] == [0, 1, 2]
    assert all(label == -100 for i, label in enumerate(labels) if i not in firsts)


def test_long_sentences_are_tagged_in_pieces_that_fit(finetuned):
    tagger, _ = finetuned
    long = [w for s in toy_sentences(0, 30, 9).words for w in s]  # far beyond the 40 positions
    pieces = tagger._pieces(long)
    assert len(pieces) > 1 and [w for piece in pieces for w in piece] == long
    assert all(
        len(tagger.tokenizer(p, is_split_into_words=True)["input_ids"]) <= tagger.max_length for p in pieces
    )
    (tags,) = tagger.predict([long])
    assert tags == [t for piece_tags in tagger.predict(pieces) for t in piece_tags]


def test_tagging_batches_are_a_pure_function_of_the_step():
    rows = [([0, i, 2], [-100, i % 3, -100], [None, 0, None]) for i in range(10)]
    source = TaggingBatches(rows, batch_size=4, grad_accum=2, pad_id=1, seed=3)
    first = source.get(5, 1, 0, 1)
    assert torch.equal(first["input_ids"], TaggingBatches(rows, 4, 2, 1, seed=3).get(5, 1, 0, 1)["input_ids"])
    epoch = torch.cat([source.get(s, m, 0, 1)["input_ids"][:, 1] for s in range(2) for m in range(2)])[:10]
    assert sorted(epoch.tolist()) == list(range(10))  # one epoch sees every sentence once
    assert not torch.equal(source.get(0, 0, 0, 2)["input_ids"], source.get(0, 0, 1, 2)["input_ids"])


def test_finetuning_fits_max_length_to_the_model_positions(tiny_xlmr, tmp_path):
    import transformers

    positions = transformers.AutoConfig.from_pretrained(tiny_xlmr).max_position_embeddings
    long = TaggedSentences(
        [["aa"] * (positions + 10)] * 4, [["X", "Y"] * ((positions + 10) // 2)] * 4, "l.conllu"
    )
    config = finetune_config(tiny_xlmr, tmp_path / "tagger", steps=2, max_length=positions + 50)
    tagger = train_tagger(config, long)  # failed inside the model's forward pass before
    assert tagger.meta["train"]["cut_sentences"] == 4
    # a word the tokenizer gives no sub-token (a zero-width space) is no cut: it counted as one
    short = TaggedSentences([["aa", "\u200b", "bb"]] * 4, [["X", "Y", "X"]] * 4, "s.conllu")
    tagger = train_tagger(finetune_config(tiny_xlmr, tmp_path / "short", steps=2), short)
    assert tagger.meta["train"]["cut_sentences"] == 0


def write_conllu(path: Path, sentences: TaggedSentences) -> Path:
    """Return `path`, now holding `sentences` as CoNLL-U (the word as its own lemma)."""
    lines = []
    for words, tags in zip(sentences.words, sentences.tags, strict=True):
        lines += [
            f"{i}\t{w}\t{w}\t{t}\t_\t_\t0\tdep\t_\t_"
            for i, (w, t) in enumerate(zip(words, tags, strict=True), 1)
        ]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_resume_refuses_a_conllu_file_edited_in_place(tiny_xlmr, tmp_path):
    """The checkpoint keeps a hash of the train and dev files; one edited since is named, not trained on."""
    train_file = write_conllu(tmp_path / "a-ud-train.conllu", toy_sentences(0, 20, 1))
    dev_file = write_conllu(tmp_path / "a-ud-dev.conllu", toy_sentences(0, 8, 2))

    def run(steps: int, **changes):
        config = finetune_config(tiny_xlmr, tmp_path / "tagger", steps=steps, **changes)
        config.training = replace(config.training, checkpoint_every=2, eval_every=2)
        return train_tagger(config, read_conllu(train_file), read_conllu(dev_file))

    run(2)
    state = json.loads(
        (tmp_path / "tagger" / "checkpoints" / "step-00000002" / "trainer_state.json").read_text()
    )
    assert list(state["data_files"]) == [str(train_file), str(dev_file)]
    write_conllu(dev_file, toy_sentences(0, 8, 3))
    with pytest.raises(
        ConfigError, match=r"step-00000002: --resume reads other training data .*a-ud-dev\.conllu"
    ):
        run(4, resume=True)
    assert data_files(read_conllu(train_file), None) == [train_file]
    # sentences made in memory name no file
    assert data_files(toy_sentences(0, 2, 1), None) == []


def test_fine_tuning_over_a_frozen_tagger_needs_overwrite_and_replaces_it_whole(
    shared_encoder, tiny_xlmr, tmp_path
):
    """train_finetuned_tagger wrote its model beside the frozen tagger's head.safetensors."""
    output = tmp_path / "tagger"
    train_tagger(frozen_config(shared_encoder, output=str(output)), toy_sentences(0, 40, 1))
    with pytest.raises(XlingError, match="a tagger is already there"):
        train_tagger(finetune_config(tiny_xlmr, output, steps=2), toy_sentences(0, 20, 1))
    assert (output / "head.safetensors").is_file()  # refused before training: the frozen tagger stays
    tagger = train_tagger(
        finetune_config(tiny_xlmr, output, steps=2, overwrite=True), toy_sentences(0, 20, 1)
    )
    assert not (output / "head.safetensors").exists()
    assert load_tagger(output).predict([["aa"]]) == tagger.predict([["aa"]])


def test_fine_tuning_over_a_frozen_tagger_in_a_mount_point_saves_into_it(
    shared_encoder, tiny_xlmr, tmp_path, monkeypatch
):
    """A fine-tuned tagger is saved into its folder, yet replacing a frozen one there refused a mount point (a
    Docker volume as --output) as if the folder were renamed; clearing it whole would fail there (EBUSY)."""
    output = tmp_path / "tagger"
    train_tagger(frozen_config(shared_encoder, output=str(output)), toy_sentences(0, 40, 1))
    pretend_mount_point(monkeypatch, output)
    with pytest.raises(XlingError, match="a tagger is already there"):
        train_tagger(finetune_config(tiny_xlmr, output, steps=2), toy_sentences(0, 20, 1))
    assert (output / "head.safetensors").is_file()  # refused before training: the frozen tagger stays
    tagger = train_tagger(
        finetune_config(tiny_xlmr, output, steps=2, overwrite=True), toy_sentences(0, 20, 1)
    )
    assert output.is_dir() and not (output / "head.safetensors").exists()
    assert json.loads((output / "xling.json").read_text("utf-8"))["kind"] == "tagger/finetune"
    assert load_tagger(output).predict([["aa"]]) == tagger.predict([["aa"]])


def test_a_ud_file_names_its_language_so_the_source_is_kept_out_of_the_average(
    shared_encoder, tmp_path, caplog
):
    # trained without --language on en_partut-ud-train.conllu, English's own test set counted as a target
    from xling.data.conllu import ud_file_language

    names = [
        "UD_English-ParTUT/en_partut-ud-train.conllu",
        "UD_Turkish-IMST/tr_imst-ud-dev.conllu.gz",
        "UD_English-EWT/train.conllu",
        "UD_Toy/a-ud-train.conllu",
        "my_data-ud-train.conllu",
        "UD_Turkish_German-SAGT/qtd_sagt-ud-train.conllu",
        "UD_Norwegian-Nynorsk/no_nynorsk-ud-train.conllu",
        "UD_Norwegian-Bokmaal/no_bokmaal-ud-dev.conllu",
    ]  # not Burmese; UD's own code for Turkish-German; Norwegian's standards under the macrolanguage's code
    assert [ud_file_language(name) for name in names] == ["en", "tr", None, None, None, None, "nn", "nb"]
    (tmp_path / "UD_English-Toy").mkdir()
    train = write_conllu(tmp_path / "UD_English-Toy" / "en_toy-ud-train.conllu", toy_sentences(0, 60, 1))
    tagger = train_tagger(frozen_config(shared_encoder), read_conllu(train))
    assert tagger.meta["train"]["language"] == "en"
    tests = {"en": toy_sentences(0, 20, 8), "de": toy_sentences(1, 20, 9)}
    result = evaluate_tagger(tagger, tests)
    assert list(result.scores) == ["de"] and result.settings["source"]["language"] == "en"
    tagger.meta["train"]["language"] = None  # a tagger that does not say: a warning, every set averaged
    with caplog.at_level("WARNING", logger="xling"):
        assert list(evaluate_tagger(tagger, tests).scores) == ["en", "de"]
    assert "does not say which language it was trained on" in caplog.text


def test_a_dev_tag_the_training_data_lacks_is_scored_as_an_error_not_a_refusal(shared_encoder, caplog):
    # one SYM in a dev set stopped the training of a tagger on a small train split
    dev = toy_sentences(0, 20, 5, source="dev.conllu")
    dev.tags[2][0] = "SYM"
    with caplog.at_level("WARNING", logger="xling"):
        tagger = train_tagger(
            frozen_config(shared_encoder, c_values=[0.1, 1.0]), toy_sentences(0, 60, 1), dev
        )
    assert "dev.conllu: 1 of" in caplog.text and "SYM 1" in caplog.text
    assert set(tagger.meta["dev"]["accuracy_by_c"]) == {"0.1", "1.0"} and tagger.meta["dev"]["accuracy"] < 100
