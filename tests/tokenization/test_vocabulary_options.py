"""Options of `xling tokenizer train` that must fail early and clearly, and outputs it must never delete."""

import shutil

import pytest

import xling.tokenization.vocabulary as vocabulary
from xling.cli import main
from xling.data.config import CorpusConfig
from xling.data.sources import TextSources, sample_corpus_dir
from xling.errors import ConfigError, XlingError
from xling.tokenization.vocabulary import VocabConfig, _spm_message, tokenizer_languages, train_vocabulary

SMALL = ["--set", "sample_sentences=2000"]  # fast on old code too, where a bad output was trained into


def _run_main(monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["xling", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err.replace("\n", "")


def _corpus_copy(folder):
    """Return a copy of two languages of the sample corpus plus a notes file, as a user's own folder."""
    folder.mkdir(parents=True)
    for lang in ("eng", "deu"):
        shutil.copy(sample_corpus_dir() / f"{lang}.tsv", folder / f"{lang}.tsv")
    (folder / "notes.txt").write_text("my notes\n", encoding="utf-8")
    return folder


def _listing(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _tiny(output, **fields) -> VocabConfig:
    return VocabConfig(**({"output": str(output), "vocab_size": 500, "sample_sentences": 1000} | fields))


def _sample_texts():
    return TextSources.from_options("sample", ["eng", "deu"], []).text_factories()


# --- --overwrite replaces only a tokenizer, never the corpus or someone's files ---


def test_overwrite_output_that_is_the_corpus_deletes_nothing(tmp_path, monkeypatch, capsys):
    corpus = _corpus_copy(tmp_path / "corpus_copy")
    before = _listing(corpus)
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--corpus", str(corpus), "--output",
                          str(corpus), "--overwrite", "--vocab-size", "300", *SMALL)  # fmt: skip
    assert code == 2 and "is the corpus folder" in err and "data.corpus" in err, err
    assert _listing(corpus) == before


@pytest.mark.parametrize("where", ["inside", "above"])
def test_output_inside_or_around_the_corpus_is_refused(tmp_path, where):
    corpus = _corpus_copy(tmp_path / "project" / "corpus")
    output = corpus / "tok" if where == "inside" else tmp_path / "project"
    config = _tiny(output, overwrite=True)
    config.data.corpus = str(corpus)
    before = _listing(tmp_path)
    relation = "lies inside" if where == "inside" else "contains"
    with pytest.raises(ConfigError, match=rf"output: .* {relation} the corpus folder .*corpus"):
        train_vocabulary(TextSources.from_config(config.data).text_factories(), config)
    assert _listing(tmp_path) == before


def test_output_holding_a_text_file_is_refused(tmp_path):
    text = tmp_path / "project" / "eng.txt"
    text.parent.mkdir()
    text.write_text("Hello there\nGood morning\n", encoding="utf-8")
    config = _tiny(tmp_path / "project", overwrite=True)
    config.data.text = [f"eng={text}"]
    with pytest.raises(ConfigError, match=r"output: .*project contains the text file .*eng.txt.*data.text"):
        train_vocabulary(TextSources.from_config(config.data).text_factories(), config)
    assert text.read_text(encoding="utf-8") == "Hello there\nGood morning\n"


def test_overwrite_does_not_replace_a_folder_of_other_files(tmp_path, monkeypatch, capsys):
    project = tmp_path / "myproject"
    project.mkdir()
    (project / "thesis.tex").write_text("\\documentclass{article}\n", encoding="utf-8")
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--corpus", "sample", "--languages",
                          "eng,deu", "--output", str(project), "--overwrite", "--vocab-size", "300", *SMALL)  # fmt: skip
    assert code == 2 and "not a tokenizer" in err and "nothing was deleted" in err, err
    assert _listing(project) == {"thesis.tex": b"\\documentclass{article}\n"}
    # another kind of xling folder is not replaced either
    (project / "xling.json").write_text('{"kind": "model"}', encoding="utf-8")
    with pytest.raises(XlingError, match="holds a 'model' folder"):
        train_vocabulary(_sample_texts(), _tiny(project, overwrite=True))
    assert (project / "thesis.tex").is_file()


def test_overwrite_replaces_an_earlier_tokenizer_old_or_new(tmp_path):
    out = tmp_path / "tok"
    train_vocabulary(_sample_texts(), _tiny(out))
    train_vocabulary(_sample_texts(), _tiny(out, overwrite=True, extra_languages=["fra"]))
    assert tokenizer_languages(out) == ["deu", "eng", "fra"]
    # a folder made before xling.json existed records no kind; it is still a tokenizer to replace
    (out / "xling.json").rename(out / "xling_tokenizer.json")
    train_vocabulary(_sample_texts(), _tiny(out, overwrite=True))
    assert tokenizer_languages(out) == ["deu", "eng"] and not (out / "xling_tokenizer.json").exists()


# --- options SentencePiece would reject after the corpus was read ---


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sample_sentences", 0),
        ("threads", 0),
        ("threads", 1025),
        ("max_sentence_chars", 0),
        ("max_sentence_chars", 9),
        ("seed", -1),
        ("seed", 2**32),
        ("seed", 2**32 - 1),  # SentencePiece's "no seed": it takes a random one
        ("alpha", 1.5),
    ],
)
def test_out_of_range_options_are_config_errors_before_any_text_is_read(tmp_path, field, value):
    def never():
        raise AssertionError("the text was read before the options were checked")

    with pytest.raises(ConfigError, match=rf"^{field}: "):
        train_vocabulary({"eng": never}, _tiny(tmp_path / "tok", **{field: value}))
    assert not (tmp_path / "tok").exists()


def test_the_seed_sentencepiece_reads_as_no_seed_is_refused_and_the_one_below_kept():
    """seed=4294967295 passed the check, and SentencePiece took it as "use std::random_device": the vocabulary
    changed every run with a seed given."""
    with pytest.raises(
        ConfigError, match=r"^seed: 4294967295 is SentencePiece's 'no seed' .* use 0 to 4294967294"
    ):
        VocabConfig(seed=2**32 - 1).validate()
    VocabConfig(seed=2**32 - 2).validate()


def test_a_vocab_size_without_room_for_the_byte_pieces_is_refused_before_any_text_is_read(tmp_path):
    """With byte fallback SentencePiece sets 256 byte pieces aside: vocab_size 100 passed the check, then failed
    after the corpus was sampled, as "smaller than the 274 characters" the text needed."""

    def never():
        raise AssertionError("the text was read before vocab_size was checked")

    byte_message = r"^vocab_size: {} is too small: byte_fallback adds 256 byte pieces, .* make {} pieces"
    with pytest.raises(ConfigError, match=byte_message.format(100, 262)):
        train_vocabulary({"deu": never}, _tiny(tmp_path / "tok", vocab_size=100))
    # two languages and an extra one: 5 special tokens, 3 language tokens, 256 bytes
    with pytest.raises(ConfigError, match=byte_message.format(264, 264)):
        train_vocabulary(
            {"eng": never, "deu": never}, _tiny(tmp_path / "tok", vocab_size=264, extra_languages=["fr"])
        )
    assert not (tmp_path / "tok").exists()
    data = CorpusConfig(text=["de=a.txt", "deu=b.txt", "en=c.txt"])  # two languages, named before any is read
    with pytest.raises(ConfigError, match=byte_message.format(263, 263)):
        VocabConfig(vocab_size=263, data=data).validate()
    VocabConfig(vocab_size=264, data=data).validate()
    VocabConfig(vocab_size=100, byte_fallback=False).validate()  # no byte pieces: 100 is enough room
    with pytest.raises(ConfigError, match=r"^vocab_size: 99 is too small \(at least 100\)"):
        VocabConfig(vocab_size=99, byte_fallback=False).validate()


def test_a_vocab_size_without_room_for_the_byte_pieces_on_the_command_line_names_them(
    tmp_path, monkeypatch, capsys
):
    text = tmp_path / "weird.txt"
    text.write_text("dup\tline\tx\n\ufeffbom\n", encoding="utf-8")
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--text", f"deu={text}", "--output",
                          str(tmp_path / "out"), "--vocab-size", "100")  # fmt: skip
    assert code == 2 and "256 byte pieces" in err and "characters" not in err, err
    assert "counting sentences" not in err and not (tmp_path / "out").exists()  # refused before reading


def test_a_vocab_size_without_room_counts_every_language_of_a_corpus_folder_the_first_time(
    tmp_path, monkeypatch, capsys
):
    """A corpus folder without data.languages was counted as 1 language: vocab_size 200 over 4 files said
    "raise it above 262", then 263 failed again with "4 language tokens ... above 265"."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for lang in ("eng", "deu", "fra", "zho"):
        shutil.copy(sample_corpus_dir() / f"{lang}.tsv", folder / f"{lang}.tsv")
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--corpus", str(folder), "--output",
                          str(tmp_path / "out"), "--vocab-size", "200")  # fmt: skip
    assert code == 2 and "4 language tokens make 265 pieces" in err and "above 265" in err, err
    assert not (tmp_path / "out").exists()
    byte_message = r"^vocab_size: {} is too small: .* and {} language tokens make {} pieces"
    with pytest.raises(ConfigError, match=byte_message.format(265, 4, 265)):
        VocabConfig(vocab_size=265, data=CorpusConfig(corpus=str(folder))).validate()
    VocabConfig(vocab_size=266, data=CorpusConfig(corpus=str(folder))).validate()
    # data.languages picks files, a text file adds its language, extra_languages one more: 2 + 1 + 1
    data = CorpusConfig(corpus=str(folder), languages=["en", "de"], text=[f"swh={folder / 'eng.tsv'}"])
    with pytest.raises(ConfigError, match=byte_message.format(265, 4, 265)):
        VocabConfig(vocab_size=265, data=data, extra_languages=["deu", "hye"]).validate()


def test_out_of_range_option_on_the_command_line_names_it(tmp_path, monkeypatch, capsys):
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--corpus", "sample", "--output",
                          str(tmp_path / "tok"), "--set", "sample_sentences=0")  # fmt: skip
    assert code == 2 and "sample_sentences" in err and "trainer_interface" not in err, err


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("INTERNAL: src/trainer_interface.cc(467) [!sentences_.empty()]", "its check !sentences_.empty() failed"),
        ("INTERNAL: src/trainer_interface.cc(97) [trainer_spec.num_threads() >= 1 && "
         "trainer_spec.num_threads() <= 1024] ", "its check trainer_spec.num_threads() >= 1 && "
         "trainer_spec.num_threads() <= 1024 failed"),
        ("INTERNAL: src/unigram_model_trainer.cc(12) [x[0] > 1] Something went wrong.\nmore",
         "Something went wrong."),
        ("a message without a location", "a message without a location"),
    ],
)  # fmt: skip
def test_sentencepiece_location_is_dropped_whatever_follows_it(error, expected):
    assert _spm_message(error, VocabConfig()) == f"SentencePiece training failed: {expected}"


# --- a tiny corpus is not drawn sample_sentences times ---


def test_sample_is_capped_at_a_multiple_of_the_corpus():
    cap = 180 * vocabulary.MAX_SAMPLE_PER_SENTENCE
    assert vocabulary.sample_size({"eng": 90, "deu": 90}, 500_000) == cap
    assert vocabulary.sample_size({"eng": 100_000, "deu": 90}, 500_000) == 500_000


def test_tiny_corpus_is_not_blown_up_to_sample_sentences(tmp_path, monkeypatch):
    eng = [f"sentence number {i} with a few words" for i in range(120)]
    deu = [f"Satz Nummer {i} mit ein paar Worten" for i in range(60)]
    cap = 180 * vocabulary.MAX_SAMPLE_PER_SENTENCE
    train_spm = vocabulary._train_spm

    def checked(sample, *args):
        lines = sample.read_text(encoding="utf-8").splitlines()
        assert len(lines) == cap, f"{len(lines)} sentences drawn from a 180-sentence corpus"
        train_spm(sample, *args)

    monkeypatch.setattr(vocabulary, "_train_spm", checked)
    lines: list[str] = []
    report = train_vocabulary(
        {"eng": lambda: iter(eng), "deu": lambda: iter(deu)},
        VocabConfig(output=str(tmp_path / "tok"), vocab_size=300),  # the default sample_sentences: 500,000
        progress=lines.append,
    )
    assert sum(report.sampled.values()) == cap
    # the smoothed proportions are those of the full-size sample
    full = vocabulary.sentences_per_language(report.counts, 500_000, 0.3)
    for lang in ("eng", "deu"):
        assert report.sampled[lang] / cap == pytest.approx(full[lang] / 500_000, abs=1e-3)
    assert report.sampled["deu"] > 60 * report.sampled["eng"] / 120  # smoothing still lifts the small one
    assert any("not 500,000" in line for line in lines)


@pytest.mark.parametrize("coverage", [0.95, 0.979, 1.01])
def test_a_character_coverage_sentencepiece_refuses_is_refused_first(coverage):
    with pytest.raises(ConfigError, match=r"character_coverage: .* must be in \[0.98, 1\]"):
        VocabConfig(character_coverage=coverage).validate()


def test_a_bad_language_code_is_named_with_its_field_where_it_is_read():
    VocabConfig(data=CorpusConfig(text=["xx1=a.txt"])).validate()  # the room check does not judge codes
