"""`xling bot`: a translator the user named that cannot be loaded, and FAQ languages that name no language."""

from __future__ import annotations

import json

import pytest

from xling.bot import SupportBot, build_bot
from xling.bot.bot import BotBuildConfig
from xling.bot.faq import read_faq
from xling.cli import main
from xling.errors import DataError, LanguageCodeError, XlingError


def _run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["xling", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, " ".join(captured.err.split())


def test_ask_with_a_translator_that_cannot_be_loaded_is_an_error_before_answering(
    sample_bot_dir, mini_encoder, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        "xling.embeddings.encoder.Encoder.load", classmethod(lambda cls, *a, **k: mini_encoder)
    )
    missing = tmp_path / "nomodel"
    code, out, err = _run_main(monkeypatch, capsys, "bot", "ask", sample_bot_dir, "Ich habe mein Passwort "
                               "vergessen.", "--lang", "pt", "--translator", missing)  # fmt: skip
    assert code == 2 and out == "", out
    assert err.startswith(f"error: --translator: {missing}") and "Traceback" not in err, err
    # without --translator the bot answers in the FAQ's language, as before
    code, out, err = _run_main(monkeypatch, capsys, "bot", "ask", sample_bot_dir, "Ich habe mein Passwort "
                               "vergessen.", "--lang", "pt")  # fmt: skip
    assert code in (0, None) and out.strip(), err


def test_load_translator_raises_where_answering_falls_back(sample_bot_dir, mini_encoder, tmp_path):
    bot = SupportBot.load(sample_bot_dir, encoder=mini_encoder, detector=None, translator=None)
    assert bot.load_translator() is None
    bot = SupportBot.load(sample_bot_dir, encoder=mini_encoder, detector=None, translator=tmp_path / "no")
    with pytest.raises(XlingError, match="no"):
        bot.load_translator()
    stub = object()
    bot.translator = stub
    assert bot.load_translator() is stub


def test_an_faq_language_that_names_no_language_is_refused(tmp_path, monkeypatch, capsys):
    faq = tmp_path / "faq.tsv"
    faq.write_text("Where is my parcel?\tOn its way.\nHow do I pay?\tBy card.\n", encoding="utf-8")
    for code in ("und", "zxx", "mul"):
        with pytest.raises(LanguageCodeError, match=f"language: '{code}' names no language"):
            build_bot(faq, tmp_path / "bot", "never-loaded", BotBuildConfig(language=code))
    # the command line: one error line, before the encoder loads, nothing written
    monkeypatch.setattr("xling.embeddings.encoder.Encoder.load", classmethod(lambda cls, *a, **k: 1 / 0))
    code, _, err = _run_main(monkeypatch, capsys, "bot", "build", "--faq", faq, "--output", tmp_path / "bot",
                             "--lang", "und")  # fmt: skip
    assert code == 2 and "'und' names no language (undetermined)" in err, err
    assert not (tmp_path / "bot").exists()
    # nor as a stored answer's language, or a folder's
    jsonl = tmp_path / "faq.jsonl"
    jsonl.write_text(json.dumps({"question": "q", "answer": "a", "answers": {"und": "b"}}) + "\n")
    with pytest.raises(DataError, match=r"faq\.jsonl:1: .*'und' names no language"):
        read_faq(jsonl)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "faq.und.tsv").write_text("a\tq\tanswer\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"faq\.und\.tsv: .*names no language"):
        read_faq(folder)
