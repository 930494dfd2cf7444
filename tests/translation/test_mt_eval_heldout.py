"""`xling eval mt` on the bible test set checks the model's record: was the test book held out of its training?"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from xling.artifacts import read_metadata, write_metadata
from xling.errors import DataError
from xling.evaluation.mt import MTEvalConfig, evaluate_mt
from xling.translation.decoding import DecodeOptions
from xling.translation.translator import Translator

from .tiny_models import PARALLEL, build_xling

# verse id -> (eng, deu); GEN in training, JHN the book `xling eval mt` scores by default
VERSES = {
    f"{book}.1.{n}": (PARALLEL["eng"][i], PARALLEL["deu"][i])
    for i, (book, n) in enumerate([("GEN", 1), ("GEN", 2), ("JHN", 1), ("JHN", 2), ("JHN", 3)])
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("heldout")
    bible = root / "bible"
    bible.mkdir()
    for side, lang in enumerate(("eng", "deu")):
        lines = "".join(f"{verse}\t{texts[side]}\n" for verse, texts in VERSES.items())
        (bible / f"{lang}.tsv").write_text(lines, encoding="utf-8")
    return root, build_xling(root / "model")


def _record(folder: Path, data: dict | None) -> None:
    """Write the training config `xling mt train` records (its data section), or none."""
    meta = {key: value for key, value in read_metadata(folder).items() if key != "config"}
    write_metadata(folder, meta if data is None else {**meta, "config": {"data": data, "max_length": 128}})


def _evaluate(root: Path, folder: Path):
    translator = Translator.from_pretrained(folder, backend="torch")
    config = MTEvalConfig(model=str(folder), data=str(root), directions=["eng-deu"],
                          decode=DecodeOptions(beam_size=1, max_length_cap=6))  # fmt: skip
    return evaluate_mt(translator, config)


@pytest.mark.parametrize(
    ("data", "seen"),
    [
        ({"corpus": "bible", "heldout_prefixes": ["MAT."]}, True),  # another book held out
        ({"corpus": "bible", "heldout_prefixes": []}, True),  # the whole corpus trained on
        ({"corpus": "bible", "heldout_prefixes": ["MAT.", "JHN"]}, False),
        ({"corpus": "sample", "heldout_prefixes": []}, False),  # another corpus: none of these verses
        ({"corpus": "", "heldout_prefixes": []}, None),  # parallel files only: no corpus to compare
        (None, None),  # no training config recorded (a model xling did not train)
    ],
)
def test_a_test_book_the_model_was_trained_on_is_a_warning_and_recorded(setup, caplog, data, seen):
    root, folder = setup
    _record(folder, data)
    with caplog.at_level(logging.WARNING, logger="xling.evaluation.mt"):
        result = _evaluate(root, folder)
    assert result.scores["eng-deu"]["n"] == 3  # the JHN verses were scored, whatever the record
    assert result.settings["test_seen_in_training"] is seen
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "xling.evaluation.mt"
    ]
    if seen:
        assert len(warnings) == 1 and "JHN." in warnings[0] and str(folder) in warnings[0]
        assert "was not held out" in warnings[0]
    else:
        assert not warnings


def test_a_fine_tuned_model_keeps_the_corpus_its_base_trained_on(tmp_path):
    from xling.artifacts import write_metadata
    from xling.evaluation.mt import training_heldout
    from xling.translation.train import _base_training_data

    base = build_xling(tmp_path / "base")
    write_metadata(base, {"kind": "translation", "family": "xling",
                          "config": {"data": {"corpus": "bible", "heldout_prefixes": []}}})  # fmt: skip
    record = _base_training_data(str(base))
    assert record == [{"corpus": "bible", "heldout_prefixes": []}]
    tuned = build_xling(tmp_path / "tuned")
    write_metadata(tuned, {"kind": "translation", "config": {"data": {"corpus": ""}}, "base_data": record})
    assert training_heldout(tuned) == [("bible", ())]  # the base saw every book: eval mt warns on any
    # fine-tuned on the same corpus with John held out: the base's training still saw John; and a model
    # fine-tuned from that one inherits both records
    write_metadata(tuned, {"kind": "translation", "base_data": record,
                           "config": {"data": {"corpus": "bible", "heldout_prefixes": ["JHN."]}}})  # fmt: skip
    assert training_heldout(tuned) == [("bible", ("JHN.",)), ("bible", ())]
    assert _base_training_data(str(tuned)) == [{"corpus": "bible", "heldout_prefixes": ["JHN."]}, *record]
    # folders written before the chain was kept hold one record, not a list
    write_metadata(tuned, {"kind": "translation", "base_data": record[0]})
    assert training_heldout(tuned) == [("bible", ())]


def test_a_scored_prefix_is_judged_by_the_verses_it_selects(setup, caplog):
    root, folder = setup
    translator = Translator.from_pretrained(folder, backend="torch")
    config = MTEvalConfig(model=str(folder), data=str(root), directions=["eng-deu"], heldout_prefixes=["JHN"],
                          decode=DecodeOptions(beam_size=1, max_length_cap=6))  # fmt: skip
    _record(folder, {"corpus": "bible", "heldout_prefixes": ["JHN."]})
    with caplog.at_level(logging.WARNING, logger="xling.evaluation.mt"):
        assert evaluate_mt(translator, config).settings["test_seen_in_training"] is False  # JHN is JHN.
    assert not [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "xling.evaluation.mt"]
    _record(folder, {"corpus": "bible", "heldout_prefixes": ["JHN.1.1"]})  # part of the book trained on
    assert evaluate_mt(translator, config).settings["test_seen_in_training"] is True


def test_a_direction_the_model_lacks_is_refused_before_any_direction_is_translated(setup, tmp_path):
    from xling.errors import XlingError

    root, folder = setup
    bible = tmp_path / "bible"
    shutil.copytree(root / "bible", bible)
    (bible / "spa.tsv").write_text(
        "".join(f"{verse}\tla frase {verse}\n" for verse in VERSES), encoding="utf-8"
    )
    translator = Translator.from_pretrained(folder, backend="torch")  # eng, deu, fra: no spa
    calls = []
    translate = translator.translate
    translator.translate = lambda *args, **kwargs: calls.append(args) or translate(*args, **kwargs)
    for directions, pivot in ((["eng-deu", "eng-spa"], ""), (["eng-deu", "deu-eng"], "spa")):
        config = MTEvalConfig(model=str(folder), data=str(tmp_path), directions=directions, pivot=pivot)
        with pytest.raises(XlingError, match="Spanish|spa"):
            evaluate_mt(translator, config)
    assert calls == []


@pytest.mark.parametrize(("file_code", "asked"), [("rus", "ru"), ("cmn", "zho")])
def test_held_out_psalms_numbered_apart_are_not_scored(tmp_path, file_code, asked):
    """Synodal Psalm 62 is the NRSV's Psalm 63: its verses would be scored against other verses' text.
    The test pairs leave out what training leaves out (the schemes in languages.tsv, chapters ending apart),
    whatever code form names the language (`zho` for the corpus's cmn lost its scheme: psalms were scored)."""
    from xling.translation.testsets import bible_test

    english = {f"PSA.{c}.{v}": f"psalm {c} line {v}" for c in (2, 62) for v in range(1, 13)}
    english |= {f"PSA.3.{v}": f"psalm 3 line {v}" for v in range(1, 10)}
    other = {sid: f"псалом {sid}" for sid in english} | {"PSA.3.10": "one verse more"}
    for lang, texts in (("eng", english), (file_code, other)):
        (tmp_path / f"{lang}.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in texts.items()), "utf-8")
    (tmp_path / "languages.tsv").write_text(
        f"lang\tversification\neng\tNRSV\n{file_code}\tSynodal\n", "utf-8"
    )
    # the table may name the language in another code form than the file (`zho` for cmn.tsv)
    table_code = {"rus": "ru", "cmn": "zho"}[file_code]
    (tmp_path / "languages.tsv").write_text(
        f"lang\tversification\neng\tNRSV\n{table_code}\tSynodal\n", "utf-8"
    )
    test = bible_test(tmp_path, "en", asked, ["PSA."])
    assert {sid.rsplit(".", 1)[0] for sid in test.ids} == {"PSA.2"}
    with pytest.raises(DataError, match="numbered differently"):
        bible_test(tmp_path, "eng", asked, ["PSA.62."])
