import json
from pathlib import Path

import pytest
from rich.console import Console

from xling.config import load_config
from xling.quickstart import QuickstartConfig, run_quickstart


def test_quickstart_runs_end_to_end_on_the_bundled_sample(tmp_path):
    config = load_config(QuickstartConfig, None, ["training.max_steps=30", "model=tiny",
                                                    "training.progress=false", "vocab_sample_sentences=20000"],
                         output=str(tmp_path / "qs"))  # fmt: skip
    console = Console(record=True, width=140)
    report = run_quickstart(config, console=console)
    shown = console.export_text()
    assert "masked-piece predictions" in shown and "translation retrieval" in shown
    assert report["train"]["steps"] == 30
    assert {row["lang"] for row in report["masked_words"]} == {"ara", "deu", "eng", "fra", "hin", "rus", "spa",
                                                               "swa", "zho"}  # fmt: skip
    assert all(len(row["guesses"]) == 5 for row in report["masked_words"])
    assert set(report["retrieval"]) == {"ara", "deu", "fra", "hin", "rus", "spa", "swa", "zho"}
    assert (tmp_path / "qs" / "model" / "model.safetensors").is_file()
    from xling.quickstart import check_demo_model_folder

    check_demo_model_folder(tmp_path / "qs" / "model")  # the next demo may replace the demo's own model
    from xling.artifacts import read_metadata
    from xling.quickstart import check_demo_tokenizer_folder

    assert read_metadata(tmp_path / "qs" / "tokenizer")["made_by"] == "xling quickstart"
    check_demo_tokenizer_folder(tmp_path / "qs" / "tokenizer")  # and its own tokenizer
    # step 5: CSLS word translation in xling-mini's shared space finds some of the right German words
    translations = report["word_translation"]["translations"]
    assert "English -> German" in shown and len(translations) >= 5
    hits = sum(any(g in found for g in gold) for word, gold in
               {"package": ["paket"], "price": ["preis"], "tomorrow": ["morgen"], "money": ["geld"]}.items()
               if (found := translations.get(word)))  # fmt: skip
    assert hits >= 2
    # step 6: a sentiment classifier trained on the English sample reviews labels the other languages' reviews
    assert all(f"{n}/8 " in shown for n in range(1, 9)) and "/7 " not in shown
    sentiment = report["sentiment"]["result"]
    assert (
        "6/8 sentiment transfer" in shown
        and "reviews labelled by a classifier that saw English only" in shown
    )
    assert set(sentiment["scores"]) == {"deu", "fra", "rus", "spa", "zho"} and sentiment["task"] == "transfer"
    assert all(row["n"] == 120 and row["covered"] is True for row in sentiment["scores"].values())
    assert sentiment["average"] >= sentiment["settings"]["majority_average"] + 15  # measured 47.9 vs 16.7
    # step 8: the shipped detector (never trained on the sample) labels the sample's sentences
    detection = report["detection"]
    assert "8/8 language identification" in shown and "[deu]" in shown
    assert set(detection["accuracy"]) == {"ara", "deu", "eng", "fra", "hin", "rus", "spa", "swa", "zho"}
    assert sum(detection["accuracy"].values()) / len(detection["accuracy"]) > 0.8


def test_word_translation_step_on_the_bible(shared_data_dir, tmp_path):
    from xling.quickstart import _show_word_translation

    console = Console(record=True, width=140)
    report = _show_word_translation(QuickstartConfig(data=str(shared_data_dir)), tmp_path, console)
    gold = {"water": "wasser", "king": "könig", "bread": "brot", "earth": "erde", "fire": "feuer",
            "mother": "mutter", "night": "nacht", "house": "haus"}  # fmt: skip
    found = report["translations"]
    assert sum(gold[word] in found[word] for word in gold) >= 6
    coverage = report["bli"]["coverage"]
    # the Bible's vectors are lowercase: German nouns ("Widmung") are found lowercased (103 pairs were found
    # when they were looked up as written)
    assert coverage["lines"] == 2000 and 200 < coverage["pairs_covered"] < coverage["lines"]


def test_sample_reviews_reader_names_the_bad_line(tmp_path):
    from xling.errors import DataError
    from xling.quickstart import _read_sample_reviews

    good = _read_sample_reviews(Path(__file__).parents[1] / "src/xling/data/samples/sentiment/eng.tsv")
    assert (
        len(good) == 120 and good.label_set == ["negative", "neutral", "positive"] and good.language == "eng"
    )
    bad = tmp_path / "deu.tsv"
    bad.write_text("positive\tSehr gut.\n\nnegative no tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"deu\.tsv:3: expected label<TAB>text"):
        _read_sample_reviews(bad)


def test_translation_step_translates_with_a_given_model(tmp_path):
    from translation.tiny_models import build_xling

    from xling.quickstart import _show_translation

    model = build_xling(
        tmp_path / "mt", languages=("eng", "deu", "fra")
    )  # no Spanish: that column is left out
    console = Console(record=True, width=160)
    # a random model never stops on its own: few sentences keep the test short
    report = _show_translation(
        QuickstartConfig(translation_model=str(model), translation_sentences=4), console
    )
    shown = console.export_text()
    assert "7/8 translation" in shown and "English into deu, fra" in shown
    assert set(report["sample_chrf"]) == {"deu", "fra"}
    assert len(report["examples"]) == 3  # each sentence once (a dict keyed by sentence keeps the last target)
    missing = _show_translation(QuickstartConfig(translation_model=str(tmp_path / "none")), console)
    assert missing == {} and "7/8 translation skipped" in console.export_text()


def test_detection_step_labels_the_sample_sentences(tmp_path):
    from langid.conftest import tiny_config

    from xling.langid.train import train_identifier
    from xling.quickstart import _show_detection

    folder = train_identifier(tiny_config(tmp_path / "detector")).output
    console = Console(record=True, width=160)
    report = _show_detection(QuickstartConfig(detector=str(folder)), console)
    shown = console.export_text()
    assert "8/8 language identification" in shown and "mixed text in spans" in shown
    # the tiny detector learned these very sentences: this checks the step's plumbing, not accuracy
    assert set(report["accuracy"]) == {"ara", "deu", "eng", "fra", "hin", "rus", "spa", "swa", "zho"}
    assert min(report["accuracy"].values()) > 0.9
    assert [span["language"] for span in report["spans"]] == ["eng", "deu"]
    missing = _show_detection(QuickstartConfig(detector=str(tmp_path / "none")), console)
    assert missing == {} and "8/8 language identification skipped" in console.export_text()


def test_someone_elses_model_folder_stops_the_demo_before_anything_is_written(tmp_path):
    from xling.errors import ConfigError, XlingError
    from xling.quickstart import check_demo_model_folder

    model = tmp_path / "qs" / "model"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_text("precious", encoding="utf-8")
    (model / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(XlingError, match=r"model: the folder holds files \("):
        run_quickstart(QuickstartConfig(output=str(tmp_path / "qs")), console=Console(quiet=True))
    assert (model / "model.safetensors").read_text(encoding="utf-8") == "precious"
    # a pretrained model the demo did not make (any masked LM was let through, and deleted with its notes)
    (model / "xling.json").write_text('{"kind": "masked-lm"}', encoding="utf-8")
    (model / "NOTES.md").write_text("mine", encoding="utf-8")
    with pytest.raises(XlingError, match=r"model: the folder holds a model the quickstart did not make"):
        run_quickstart(QuickstartConfig(output=str(tmp_path / "qs")), console=Console(quiet=True))
    assert (model / "NOTES.md").is_file()
    # an unstamped model trained with the demo's tokenizer beside it is no more the demo's: a user's model
    # there was taken for a demo made before the stamps, and deleted
    (model / "NOTES.md").unlink()
    settings = {"tokenizer": str(tmp_path / "qs" / "tokenizer"), "output": str(model)}
    (model / "xling.json").write_text(json.dumps({"kind": "masked-lm", "config": settings}))
    with pytest.raises(XlingError, match=r"did not make .*remove it, if an earlier quickstart made it"):
        check_demo_model_folder(model)
    (model / "xling.json").unlink()
    assert sorted(p.name for p in (tmp_path / "qs").iterdir()) == ["model"]  # no tokenizer trained either
    # a wrong model name also stops it before the first step, an earlier demo model left in place
    (model / "model.safetensors").unlink()
    (model / "config.json").unlink()
    (model / "checkpoints").mkdir()
    with pytest.raises(ConfigError, match=r"model: 'no-such-preset' is neither a preset"):
        run_quickstart(QuickstartConfig(output=str(tmp_path / "qs"), model="no-such-preset"),
                       console=Console(quiet=True))  # fmt: skip
    assert (model / "checkpoints").is_dir()


def test_data_may_be_the_bible_folder_itself(shared_data_dir):
    from xling.quickstart import _corpus_options

    for data in (shared_data_dir, shared_data_dir / "bible"):
        options = _corpus_options(QuickstartConfig(data=str(data)))
        assert Path(options["data"].corpus) == shared_data_dir / "bible"


@pytest.mark.parametrize(("field", "value"), [("tlm_ratio", 5.0), ("vocab_size", -1), ("max_length", -1),
                                              ("translation_sentences", -1), ("translation_sentences", 0)])  # fmt: skip
def test_a_bad_setting_stops_the_demo_before_step_1_writes_anything(tmp_path, field, value):
    from xling.config import load_config
    from xling.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        load_config(QuickstartConfig, None, [f"{field}={value}"], output=str(tmp_path / "qs"))
    with pytest.raises(ConfigError, match=field):
        run_quickstart(
            QuickstartConfig(output=str(tmp_path / "qs"), **{field: value}), console=Console(quiet=True)
        )
    assert not (tmp_path / "qs").exists()


def test_the_demos_time_budget_is_not_reported_as_a_run_to_resume(caplog):
    """The quickstart's pretraining stops at its time budget by design, and `xling quickstart` has no
    --resume: the loop's advice to run again with --resume is left out there, and only there."""
    import logging

    from xling.quickstart import _without_resume_advice

    loop_logger = logging.getLogger("xling.training.loop")
    advice = (
        "pretrain: stopped after 3.5 minutes (training.max_minutes) at step 9 of 99; run again with --resume"
    )
    with caplog.at_level(logging.WARNING), _without_resume_advice():
        loop_logger.warning(advice)
        loop_logger.warning("another warning")
    assert "--resume" not in caplog.text and "another warning" in caplog.text
    with caplog.at_level(logging.WARNING):
        loop_logger.warning(advice)
    assert "--resume" in caplog.text


def _model_folder(folder: Path, metadata: dict, *extra: str) -> Path:
    """Return `folder` made to hold what pretraining writes (placeholders), `metadata` as its xling.json and
    the files named in `extra`."""
    folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "sentencepiece.bpe.model", *extra):  # fmt: skip
        (folder / name).write_text("precious", encoding="utf-8")
    (folder / "xling.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


def _tokenizer_folder(folder: Path, metadata: dict, *extra: str) -> Path:
    """Return `folder` made to hold what a tokenizer training writes (placeholders), `metadata` as its
    xling.json and the files named in `extra`."""
    folder.mkdir(parents=True)
    names = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model")
    for name in (*names, *extra):
        (folder / name).write_text("precious", encoding="utf-8")
    (folder / "xling.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


@pytest.fixture
def no_step_1(monkeypatch):
    """Make the demo's step 1 fail the test: a folder the check should refuse is never trained over."""

    def trained(*args, **kwargs):
        raise AssertionError("step 1 ran: the demo would have replaced the folder")

    monkeypatch.setattr("xling.quickstart.train_vocabulary", trained)


def test_a_stamped_demo_model_with_someone_elses_file_is_refused(tmp_path, no_step_1):
    """The demo deletes its earlier model folder whole: a stamped one that also holds a user's file was let
    through (the same folder unstamped was refused), and the file was deleted with it."""
    from xling.errors import XlingError
    from xling.quickstart import check_demo_model_folder

    model = _model_folder(tmp_path / "qs" / "model", {"kind": "masked-lm", "made_by": "xling quickstart"},
                          "notes.md")  # fmt: skip
    with pytest.raises(XlingError, match=r"qs/model: .*files it did not write \(notes\.md\)"):
        check_demo_model_folder(model)
    with pytest.raises(XlingError, match=r"notes\.md"):
        run_quickstart(QuickstartConfig(output=str(tmp_path / "qs")), console=Console(quiet=True))
    assert (model / "notes.md").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in (tmp_path / "qs").iterdir()) == ["model"]
    (model / "notes.md").unlink()
    check_demo_model_folder(model)  # the demo's own files alone: it may replace them
    (model / "checkpoints").mkdir()  # and the run's own entries
    check_demo_model_folder(model)


def test_a_tokenizer_the_demo_did_not_make_stops_it_before_step_1(tmp_path, no_step_1):
    """Step 1 trained over <output>/tokenizer whatever it held: after recipes/bible-small.toml (its tokenizer
    in runs/bible-small/tokenizer, its model in runs/bible-small), `xling quickstart --output
    runs/bible-small` replaced the tokenizer that model was trained with."""
    from xling.errors import XlingError
    from xling.quickstart import check_demo_tokenizer_folder

    output = tmp_path / "bible-small"
    recorded = {"kind": "tokenizer", "languages": ["eng", "deu"], "language_tokens": {"eng": "__eng__"},
                "counts": {"eng": 10, "deu": 12}, "vocab_size": 16000}  # fmt: skip
    # the recipe's model is the run folder itself, its tokenizer inside: no <output>/model
    _model_folder(output, {"kind": "masked-lm", "tokenizer": recorded,
                           "config": {"tokenizer": str(output / "tokenizer")}})  # fmt: skip
    tokenizer = _tokenizer_folder(output / "tokenizer", recorded)
    refused = r"bible-small/tokenizer: the folder holds a tokenizer the quickstart did not make"
    with pytest.raises(XlingError, match=refused):
        check_demo_tokenizer_folder(tokenizer)
    with pytest.raises(XlingError, match=refused):
        run_quickstart(QuickstartConfig(output=str(output)), console=Console(quiet=True))
    assert (tokenizer / "sentencepiece.bpe.model").read_text(encoding="utf-8") == "precious"
    assert json.loads((tokenizer / "xling.json").read_text(encoding="utf-8")) == recorded
    assert not (output / "model").exists()
    # files, no tokenizer
    (tokenizer / "xling.json").unlink()
    with pytest.raises(XlingError, match=r"tokenizer: the folder holds files \("):
        check_demo_tokenizer_folder(tokenizer)
    # the demo's own, stamped: replaced; with a user's file beside it: refused, naming the file
    (tokenizer / "xling.json").write_text(json.dumps({**recorded, "made_by": "xling quickstart"}))
    check_demo_tokenizer_folder(tokenizer)
    (tokenizer / "notes.md").write_text("mine", encoding="utf-8")
    with pytest.raises(XlingError, match=r"tokenizer: .*files it did not write \(notes\.md\)"):
        check_demo_tokenizer_folder(tokenizer)


def test_an_unstamped_tokenizer_is_refused_even_beside_the_demos_model(tmp_path):
    """Only a stamp tells the demo's tokenizer apart: one trained there again by hand sits beside the demo's
    model just as the demo's own did."""
    from xling.errors import XlingError
    from xling.quickstart import check_demo_tokenizer_folder

    output = tmp_path / "qs"
    recorded = {"kind": "tokenizer", "languages": ["eng", "deu"], "vocab_size": 2000}
    tokenizer = _tokenizer_folder(output / "tokenizer", recorded)
    _model_folder(output / "model", {"kind": "masked-lm", "made_by": "xling quickstart",
                                     "config": {"tokenizer": str(tokenizer)}, "tokenizer": recorded})  # fmt: skip
    with pytest.raises(
        XlingError, match=r"qs/tokenizer: the folder holds a tokenizer the quickstart did not"
    ):
        check_demo_tokenizer_folder(tokenizer)
    (tokenizer / "xling.json").write_text(json.dumps({**recorded, "made_by": "xling quickstart"}))
    check_demo_tokenizer_folder(tokenizer)


def test_the_demo_stamps_its_tokenizer(tmp_path, monkeypatch):
    """Step 1's tokenizer is stamped as the demo's own, so that the next demo may replace it (and only it)."""
    from types import SimpleNamespace

    from xling.artifacts import read_metadata

    def trained(texts, config):
        _tokenizer_folder(Path(config.output), {"kind": "tokenizer", "language_tokens": {}})
        return SimpleNamespace(output=Path(config.output), vocab_size=2000, sampled={})

    def stopped(config):
        raise RuntimeError("step 2 stopped by the test")

    monkeypatch.setattr("xling.quickstart.train_vocabulary", trained)
    monkeypatch.setattr("xling.quickstart.pretrain", stopped)
    with pytest.raises(RuntimeError, match="step 2 stopped"):
        run_quickstart(QuickstartConfig(output=str(tmp_path / "qs")), console=Console(quiet=True))
    assert read_metadata(tmp_path / "qs" / "tokenizer")["made_by"] == "xling quickstart"
