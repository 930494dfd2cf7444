"""`xling eval bot` and `xling bot tune`: the figures and the threshold choice, and the CLI around them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from xling.bot.evaluate import choose_threshold, evaluate_bot, tune_threshold
from xling.bot.faq import LabelledQuestion, read_questions
from xling.errors import DataError

from .conftest import UNLIKE_EVERY_ENTRY


def test_choose_threshold_separates_right_answers_from_off_topic():
    scores = np.array([0.9, 0.8, 0.4, 0.3, 0.2, 0.1])
    right = np.array([True, True, False, False, False, False])
    answerable = np.array([True, True, True, False, False, False])
    choice = choose_threshold(scores, right, answerable)
    assert 0.4 < choice.threshold <= 0.8  # answers both right ones, refuses the wrong one and all off-topic
    assert (choice.answered_right, choice.no_answer) == (pytest.approx(2 / 3), 1.0)
    assert choice.top1 == pytest.approx(2 / 3)
    with pytest.raises(DataError):
        choose_threshold(scores, right, np.ones(6, dtype=bool))


def test_choose_threshold_stores_a_threshold_that_gives_the_reported_figures():
    # the best cut is halfway between 0.12341 and 0.12349 (0.12345); rounded to 4 decimals it would be
    # 0.1235, above the right answer at 0.12349, which would then go unanswered
    scores = np.array([0.12341, 0.12349, 0.5, 0.0])
    right = np.array([False, True, True, False])
    answerable = np.array([False, True, True, False])
    choice = choose_threshold(scores, right, answerable)
    assert (choice.answered_right, choice.no_answer) == (1.0, 1.0)
    answered = scores >= choice.threshold
    assert float((answered & right)[answerable].mean()) == choice.answered_right
    assert float((~answered)[~answerable].mean()) == choice.no_answer
    assert 0.12341 < choice.threshold <= 0.12349
    assert (
        choose_threshold(np.array([0.3, 0.8, 0.9, 0.1]), right, answerable).threshold == 0.55
    )  # 4 decimals at most


def test_choose_threshold_leaves_a_minus_inf_score_alone_below_a_finite_threshold():
    # a ratio-margin question unlike every entry scores -inf: halfway between it and 1.0 is -inf too, so
    # the cut answering 1, 2 and 3 and only refusing it was never tried
    scores = np.array([-np.inf, 1.0, 2.0, 3.0])
    right = answerable = np.array([False, True, True, True])
    choice = choose_threshold(scores, right, answerable)
    assert (choice.answered_right, choice.no_answer) == (1.0, 1.0)
    assert np.isfinite(choice.threshold) and choice.threshold < 1.0
    # no finite score at all: still a finite threshold (one of -inf answers everything, and is no JSON)
    lost = choose_threshold(np.array([-np.inf, -np.inf]), np.array([False, False]), np.array([True, False]))
    assert np.isfinite(lost.threshold) and lost.no_answer == 1.0


def test_tune_on_a_ratio_bot_refuses_only_the_question_unlike_every_entry(ratio_bot):
    questions = [LabelledQuestion("pay", "How can I pay?", "dev:1"),
                 LabelledQuestion("parcel", "Where is my package?", "dev:2"),
                 LabelledQuestion(None, UNLIKE_EVERY_ENTRY, "dev:3")]  # fmt: skip
    choice = tune_threshold(ratio_bot, questions)
    assert (choice.answered_right, choice.no_answer) == (1.0, 1.0), choice


def _write_sets(root, lang, questions, offtopic):
    (root / f"questions.{lang}.tsv").write_text(
        "".join(f"{i}\t{q}\n" for i, q in questions), encoding="utf-8"
    )
    (root / f"offtopic.{lang}.tsv").write_text("".join(f"off.{n}\t{q}\n" for n, q in enumerate(offtopic)),
                                               encoding="utf-8")  # fmt: skip


def test_in_language_counts_the_files_language_not_the_detected_one(tmp_path, sample_bot, monkeypatch):
    """A German question taken for Dutch and answered in Dutch is not answered in the asker's language."""
    import dataclasses

    _write_sets(
        tmp_path,
        "deu",
        [("forgot-password", "Ich habe mein Passwort vergessen.")],
        ["Wer malte die Mona Lisa?"],
    )
    answer_many = sample_bot.answer_many

    def as_dutch(questions, langs=None):
        return [dataclasses.replace(reply, answer_language="nld", in_asker_language=True, detected_language="nld")
                for reply in answer_many(questions, langs)]  # fmt: skip

    monkeypatch.setattr(sample_bot, "answer_many", as_dutch)
    deu = evaluate_bot(sample_bot, tmp_path).scores["deu"]
    assert deu["answered_right"] == 100.0 and deu["in_language"] == 0.0


def test_evaluate_bot_reports_each_language(tmp_path, sample_bot):
    _write_sets(tmp_path, "deu", [("forgot-password", "Ich habe mein Passwort vergessen."),
                                  ("account-locked", "Mein Konto ist gesperrt.")], ["Wer malte die Mona Lisa?"])  # fmt: skip
    _write_sets(tmp_path, "spa", [("warranty", "¿Cuánto dura la garantía?")],
                ["¿Quién ganó la liga el año pasado?", "¿Cómo se cocina la paella?"])  # fmt: skip
    result = evaluate_bot(sample_bot, tmp_path)
    assert result.task == "bot" and result.primary == "accuracy"
    assert list(result.scores) == ["deu", "spa"]
    deu, spa = result.scores["deu"], result.scores["spa"]
    assert (deu["accuracy"], deu["answered_right"], deu["n"], deu["n_offtopic"]) == (100.0, 100.0, 2, 1)
    assert spa["no_answer"] == 100.0 and spa["in_language"] == 100.0
    assert deu["detected"] == 100.0  # the tiny detector knows German
    assert result.average == 100.0
    json.dumps(result.to_dict())
    with pytest.raises(DataError, match=r"no questions.<lang>.tsv or offtopic.<lang>.tsv for fra"):
        evaluate_bot(sample_bot, tmp_path, ["fr"])
    # a question without an answer (`-`) in a questions file: said so (it was "id None is not an entry")
    (tmp_path / "questions.deu.tsv").write_text("forgot-password\tIch habe mein Passwort vergessen.\n"
                                                "-\tWer malte die Mona Lisa?\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(DataError, match=r"questions\.deu\.tsv:2: id '-' \(no answer\).*offtopic\.deu\.tsv"):
        evaluate_bot(sample_bot, tmp_path, ["deu"])


def test_a_language_with_off_topic_questions_only_is_scored_too(tmp_path, sample_bot, capsys):
    """offtopic.fra.tsv without questions.fra.tsv: French was skipped, and `--langs fra` refused; its
    figures about answerable questions are null, and left out of the averages."""
    from xling.cli.bot import _print_result

    _write_sets(tmp_path, "deu", [("forgot-password", "Ich habe mein Passwort vergessen."),
                                  ("account-locked", "Mein Konto ist gesperrt.")], ["Wer malte die Mona Lisa?"])  # fmt: skip
    (tmp_path / "offtopic.fra.tsv").write_text("-\tQui a peint la Joconde ?\n-\tQuel temps fera-t-il ?\n",
                                               encoding="utf-8")  # fmt: skip
    result = evaluate_bot(sample_bot, tmp_path)
    assert list(result.scores) == ["deu", "fra"]
    fra = json.loads(json.dumps(result.to_dict()))["scores"]["fra"]
    assert (fra["n"], fra["n_offtopic"], fra["no_answer"]) == (0, 2, 100.0)
    assert fra["accuracy"] is fra["answered_right"] is fra["answered_wrong"] is fra["in_language"] is None
    assert result.primary == "accuracy" and result.average == result.scores["deu"]["accuracy"] == 100.0
    _print_result(result)
    table = capsys.readouterr().out
    assert "fra" in table and "average" in table
    alone = evaluate_bot(sample_bot, tmp_path, ["fr"])  # no answerable question anywhere: no_answer averages
    assert list(alone.scores) == ["fra"] and (alone.primary, alone.average) == ("no_answer", 100.0)


def test_a_translator_is_scored_on_the_answers_the_faq_stores(tmp_path, sample_bot_dir, mini_encoder):
    from xling.bot import SupportBot
    from xling.errors import XlingError

    bot = SupportBot.load(sample_bot_dir, encoder=mini_encoder, detector=None, translator=None)
    german = {entry.answer: entry.answers["deu"] for entry in bot.entries}

    class GermanOnly:
        """Translates into German only: the stored German answer, except for the first entry's."""

        class conventions:  # noqa: N801 - mirrors Translator.conventions
            source_token = staticmethod(lambda code: "__eng__")

            @staticmethod
            def target_token(code):
                if code != "deu":
                    raise XlingError(f"no {code}")
                return "__deu__"

        def translate(self, texts, src, tgt):
            return ["Keine Ahnung." if text == bot.entries[0].answer else german[text] for text in texts]

    _write_sets(
        tmp_path, "deu", [("forgot-password", "Ich habe mein Passwort vergessen.")], ["Wie spät ist es?"]
    )
    _write_sets(tmp_path, "spa", [("warranty", "¿Cuánto dura la garantía?")], ["¿Qué hora es?"])
    assert "translation_chrf" not in evaluate_bot(bot, tmp_path).scores["deu"]
    bot.translator = GermanOnly()
    scores = evaluate_bot(bot, tmp_path).scores
    assert 90.0 < scores["deu"]["translation_chrf"] < 100.0  # one answer of 45 wrong
    assert scores["spa"]["translation_chrf"] is None  # the translator has no Spanish
    bot.translator = tmp_path / "no-model"  # asked for, but cannot be loaded: an error, not a blank column
    with pytest.raises(XlingError):
        evaluate_bot(bot, tmp_path)


def test_tune_scores_a_question_without_a_letter_as_the_bot_answers_it(sample_bot, monkeypatch):
    """The bot never answers "0800 123 456" (no letter), though its margin is the highest here: tuning on
    its raw margin had to choose between answering it and refusing the right answers below it, and reported
    figures that `xling eval bot` at the same threshold did not give."""
    questions = [LabelledQuestion("forgot-password", "I forgot my password.", "dev:1"),
                 LabelledQuestion("forgot-password", "Ich habe mein Passwort vergessen.", "dev:2"),
                 LabelledQuestion(None, "0800 123 456", "dev:3"),
                 LabelledQuestion(None, "12345", "dev:4"),
                 LabelledQuestion(None, "Wer malte die Mona Lisa?", "dev:5")]  # fmt: skip
    raw = [match.score for match in sample_bot.match([q.text for q in questions])]
    assert max(raw[2:4]) > min(raw[:2]), raw  # else the questions no longer show the fault
    choice = tune_threshold(sample_bot, questions)
    assert (choice.answered_right, choice.no_answer) == (1.0, 1.0), choice
    monkeypatch.setattr(sample_bot, "threshold", choice.threshold)
    replies = sample_bot.answer_many([q.text for q in questions])
    assert [reply.answered for reply in replies] == [True, True, False, False, False]


def test_tune_rejects_an_id_the_faq_lacks(tmp_path, sample_bot):
    (tmp_path / "dev.deu.tsv").write_text("no-such-entry\tWo ist mein Paket?\n-\tWie wird das Wetter?\n")
    with pytest.raises(DataError, match="no-such-entry"):
        tune_threshold(sample_bot, read_questions(tmp_path / "dev.deu.tsv"))


def test_cli_build_ask_tune_and_eval(tmp_path, mini_encoder, tiny_detector, monkeypatch):
    from xling.cli import bot as cli

    monkeypatch.setattr(
        "xling.embeddings.encoder.Encoder.load", classmethod(lambda cls, *a, **k: mini_encoder)
    )
    tiny_detector.save_pretrained(tmp_path / "detector")
    runner = CliRunner()
    faq = tmp_path / "faq.tsv"
    faq.write_text("pay\tWhich payment methods do you accept?\tCard or PayPal.\n"
                   "ship\tHow much does shipping costs?\tShipping is free.\n"
                   "pwd\tI forgot my password.\tClick 'Forgot password?'.\n"
                   "hours\tWhen are your stores open?\tFrom 9 to 8.\n"
                   "warranty\tHow long is the warranty?\tTwo years.\n", encoding="utf-8")  # fmt: skip
    built = runner.invoke(cli.app, ["build", "--faq", str(faq), "--output", str(tmp_path / "bot")])
    assert built.exit_code == 0, built.output
    asked = runner.invoke(cli.app, ["ask", str(tmp_path / "bot"), "I forgot my password", "--json",
                                    "--detector", str(tmp_path / "detector")])  # fmt: skip
    assert asked.exit_code == 0, asked.output
    reply = json.loads(asked.stdout.splitlines()[0])
    assert reply["id"] == "pwd" and reply["detected_language"] == "eng"
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "dev.eng.tsv").write_text("pwd\tI can't remember my password.\n-\tWho won the cup?\n")
    tuned = runner.invoke(cli.app, ["tune", str(tmp_path / "bot"), "--dev", str(tmp_path / "dev")])
    assert tuned.exit_code == 0, tuned.output
    assert "threshold" in tuned.stdout
    stored = json.loads((tmp_path / "bot" / "xling.json").read_text())
    assert stored["threshold_source"].startswith("xling bot tune")
    _write_sets(tmp_path, "eng", [("pwd", "I can't log in, my password is gone from my head.")], ["Who won?"])
    evaluation = typer.Typer()
    evaluation.command("bot")(cli.eval_bot)
    evaluation.command("other")(lambda: None)  # two commands: typer keeps "bot" as a subcommand
    out = tmp_path / "result.json"
    ran = runner.invoke(evaluation, ["bot", "--bot", str(tmp_path / "bot"), "--data", str(tmp_path),
                                     "--detector", str(tmp_path / "detector"), "--json", str(out)])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert json.loads(out.read_text())["scores"]["eng"]["n"] == 1


def test_the_default_threshold_is_what_tuning_on_the_bundled_dev_set_chooses(sample_bot):
    """The default threshold must follow the shipped encoder: re-tune and update DEFAULT_THRESHOLDS when
    this fails after a change of xling-mini or of the scoring."""
    from xling.bot.bot import DEFAULT_THRESHOLDS
    from xling.bot.faq import read_question_sets, sample_faq_dir

    dev = [q for questions in read_question_sets(sample_faq_dir(), "dev").values() for q in questions]
    assert sample_bot.margin == "distance"
    assert tune_threshold(sample_bot, dev).threshold == pytest.approx(
        DEFAULT_THRESHOLDS["distance"], abs=1e-4
    )
