"""`xling eval bot` and `xling bot tune`: how often the bot answers right, and where its threshold goes.

The evaluation reads, per language, `questions.<lang>.tsv` (the FAQ's questions in other words: the entry
id and the question) and `offtopic.<lang>.tsv` (questions the FAQ does not answer, which must get no
answer). The threshold is chosen on other questions (`dev.<lang>.tsv`), never on these.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xling.bot.bot import SupportBot, _has_letter
from xling.bot.faq import LabelledQuestion, read_question_sets, sample_faq_dir
from xling.errors import DataError
from xling.evaluation.result import Result

__all__ = ["ThresholdChoice", "choose_threshold", "evaluate_bot", "tune_threshold"]


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold chosen on labelled questions, and what it gives on them."""

    threshold: float
    answered_right: float
    """Share of the answerable questions answered with the right entry at this threshold."""
    no_answer: float
    """Share of the unanswerable questions left unanswered at this threshold."""
    top1: float
    """Share of the answerable questions whose best entry is the right one (no threshold)."""
    answerable: int
    unanswerable: int

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as a JSON object."""
        return {"threshold": self.threshold, "answered_right": self.answered_right, "no_answer": self.no_answer,
                "top1": self.top1, "answerable": self.answerable, "unanswerable": self.unanswerable}  # fmt: skip


def choose_threshold(scores: np.ndarray, right: np.ndarray, answerable: np.ndarray) -> ThresholdChoice:
    """Return the threshold that maximises the mean of the right-answer rate (answerable questions) and
    the no-answer rate (the others); ties go to the middle of the best range.

    `scores` are the best entry's margin scores, `right` whether that entry is the right one, `answerable`
    whether the question has an entry. Thresholds are tried halfway between neighbouring finite scores and
    just outside the smallest and the largest, so a -inf score (a ratio-margin question unlike every entry)
    is below every one; the one returned is rounded (4 decimals, more where scores are closer) so that it
    still gives the figures returned.
    """
    scores, right, answerable = (np.asarray(a) for a in (scores, right, answerable))
    if not answerable.any() or answerable.all():
        raise DataError("choosing a threshold needs questions the FAQ answers and questions it does not")
    cuts = _candidate_cuts(scores)
    objective = []
    for cut in cuts:
        answered = scores >= cut
        rate_right = float((answered & right)[answerable].mean())
        rate_none = float((~answered)[~answerable].mean())
        objective.append((rate_right + rate_none) / 2)
    best = np.flatnonzero(np.isclose(objective, max(objective)))
    cut = _short_cut(float(cuts[best[len(best) // 2]]), scores)
    answered = scores >= cut
    return ThresholdChoice(
        threshold=cut,
        answered_right=float((answered & right)[answerable].mean()),
        no_answer=float((~answered)[~answerable].mean()),
        top1=float(right[answerable].mean()),
        answerable=int(answerable.sum()),
        unanswerable=int((~answerable).sum()),
    )


def _candidate_cuts(scores: np.ndarray) -> np.ndarray:
    """Return the thresholds to try: halfway between neighbouring finite scores, and 1e-3 below the smallest
    and above the largest (0 alone when no score is finite: every finite threshold leaves them all out).

    Only finite scores count: the midpoint of -inf and a number is -inf, and a threshold of -inf would
    answer every question, so the cut leaving only the -inf ones unanswered would never be tried.
    """
    values = np.unique(scores[np.isfinite(scores)])
    if values.size == 0:
        return np.zeros(1)
    return np.concatenate([[values[0] - 1e-3], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-3]])


def _short_cut(cut: float, scores: np.ndarray) -> float:
    """Return `cut` rounded to 4 decimals, or to as few more as keep every score on the same side of it (a
    rounded threshold that passed a score would not give the figures reported for it)."""
    side = scores >= cut
    for digits in range(4, 18):
        short = round(cut, digits)
        if np.array_equal(scores >= short, side):
            return short
    return cut


def tune_threshold(bot: SupportBot, questions: list[LabelledQuestion]) -> ThresholdChoice:
    """Return the threshold `choose_threshold` picks for the bot on labelled questions (dev questions, not
    the ones it will be evaluated on). A question without a letter scores -inf: the bot never answers it
    (SupportBot's "no letter, no answer"), whatever its margin, so its margin must not move the threshold
    nor the figures reported for it."""
    ids = {entry.id for entry in bot.entries}
    for question in questions:
        if question.id is not None and question.id not in ids:
            raise DataError(f"{question.where}: id {question.id!r} is not an entry of the bot's FAQ")
    matches = bot.match([question.text for question in questions])
    scores = np.array([match.score if _has_letter(question.text) else -np.inf
                       for match, question in zip(matches, questions, strict=True)])  # fmt: skip
    right = np.array(
        [bot.entries[match.best].id == q.id for match, q in zip(matches, questions, strict=True)]
    )
    answerable = np.array([question.id is not None for question in questions])
    return choose_threshold(scores, right, answerable)


def evaluate_bot(
    bot: SupportBot, data: str | Path | None = None, languages: list[str] | None = None, *, name: str = ""
) -> Result:
    """Return the bot's figures per language on `questions.<lang>.tsv` and `offtopic.<lang>.tsv` in `data`
    (default: the bundled FAQ sample), in percent: every language with either file (or those of `languages`).

    Per language: `accuracy` (top-1: the best entry is the right one, whatever the threshold; the primary
    metric), `answered_right` and `answered_wrong` (answered with the right / a wrong entry), `no_answer`
    (off-topic questions correctly left unanswered), `detected` (questions whose detected language is the
    file's; None without a detector) and `in_language` (right answers given in the file's language, whatever
    was detected). With a translator: `translation_chrf` (chrF++ of its versions of the FAQ's answers
    against the answers the FAQ stores in that language; None where it stores none or the translator lacks
    the language), to tell whether the translator is fit for answering in the languages the FAQ lacks.
    Figures of answerable questions are None for a language with off-topic questions only, and so is
    `no_answer` for one without; None is left out of `average`, the mean `accuracy` (the mean `no_answer`,
    `primary` then, when no language has answerable questions).
    """
    from xling.data.languages import normalize_language

    started = time.perf_counter()
    root = Path(data) if data is not None else sample_faq_dir()
    questions = read_question_sets(root, "questions")
    offtopic = read_question_sets(root, "offtopic")
    # either file makes a language: off-topic questions alone still say whether the bot stays silent
    found = sorted({*questions, *offtopic})
    wanted = found if not languages else [normalize_language(code) for code in languages]
    missing = [lang for lang in wanted if lang not in found]
    if missing or not wanted:
        what = ", ".join(missing) or "any language"
        raise DataError(f"no questions.<lang>.tsv or offtopic.<lang>.tsv for {what}", root)
    ids = {entry.id for entry in bot.entries}
    scores: dict[str, dict[str, Any]] = {}
    for lang in wanted:
        answerable, unanswerable = questions.get(lang, []), offtopic.get(lang, [])
        for question in answerable:
            # `-`: a question the FAQ does not answer, whose file is offtopic.<lang>.tsv
            if question.id is None:
                raise DataError(f"{question.where}: id '-' (no answer) in a questions file; put questions the FAQ "
                                f"does not answer in offtopic.{lang}.tsv")  # fmt: skip
            if question.id not in ids:
                raise DataError(f"{question.where}: id {question.id!r} is not an entry of the bot's FAQ")
        scores[lang] = _language_row(bot, lang, answerable, unanswerable)
        if bot.translator is not None:
            scores[lang]["translation_chrf"] = _translation_chrf(bot, lang)  # a load failure raises
    primary = "accuracy" if any(row["accuracy"] is not None for row in scores.values()) else "no_answer"
    values = [row[primary] for row in scores.values() if row[primary] is not None]
    if not values:  # empty files only: the mean of nothing is no figure
        raise DataError(f"no questions in the questions.<lang>.tsv or offtopic.<lang>.tsv of {', '.join(wanted)}",
                        root)  # fmt: skip
    average = float(np.mean(values))
    return Result(
        task="bot", model=name or str(bot.folder), data=str(root), scores=scores, average=round(average, 2),
        primary=primary,
        settings={"encoder": bot.metadata.get("encoder"), "threshold": bot.threshold, "margin": bot.margin,
                  "k": bot.k, "lexical_weight": bot.lexical_weight, "faq_language": bot.language,
                  "detector": _name_of(bot.detector), "translator": _name_of(bot.translator),
                  "entries": len(bot.entries)},
        seconds=time.perf_counter() - started,
    )  # fmt: skip


def _language_row(bot: SupportBot, lang: str, answerable: list[LabelledQuestion],
                  unanswerable: list[LabelledQuestion]) -> dict[str, Any]:  # fmt: skip
    """Return one language's row of figures (percent, rounded to 0.1; None where the row has no question
    the figure is about)."""
    from xling.langid.labels import label_matches

    replies = bot.answer_many([q.text for q in answerable + unanswerable])
    on, off = replies[: len(answerable)], replies[len(answerable) :]
    top1 = [reply.candidates[0].id == q.id for reply, q in zip(on, answerable, strict=True)]
    right = [reply.answered and reply.id == q.id for reply, q in zip(on, answerable, strict=True)]
    wrong = [reply.answered and reply.id != q.id for reply, q in zip(on, answerable, strict=True)]
    row: dict[str, Any] = {
        "accuracy": _percent(top1) if on else None,
        "answered_right": _percent(right) if on else None,
        "answered_wrong": _percent(wrong) if on else None,
        "no_answer": _percent([not reply.answered for reply in off]) if off else None,
        "detected": None,
        # the file's language, not the detected one: an answer translated into a misdetected language is
        # not in the asker's language
        "in_language": _percent([r.answer_language is not None and label_matches(r.answer_language, lang)
                                 for r, ok in zip(on, right, strict=True) if ok]) if any(right) else None,
        "n": len(answerable),
        "n_offtopic": len(off),
    }  # fmt: skip
    if bot.detector is not None and replies:
        row["detected"] = _percent([reply.detected_language is not None and reply.detected_language != "und"
                                    and label_matches(reply.detected_language, lang) for reply in replies])  # fmt: skip
    return row


def _translation_chrf(bot: SupportBot, lang: str) -> float | None:
    """Return corpus chrF++ of the bot's translations of its FAQ answers into `lang` against the answers
    stored in `lang` (None: none stored, or the translator does not translate into `lang`)."""
    from xling.evaluation.mt import corpus_scores

    stored = [(i, entry.answers[lang]) for i, entry in enumerate(bot.entries) if lang in entry.answers]
    if not stored or lang == bot.language:
        return None
    hypotheses = bot.translated_answers([i for i, _ in stored], lang)
    if hypotheses is None:
        return None
    scores, _ = corpus_scores(hypotheses, [text for _, text in stored], lang)
    return scores["chrf++"]


def _percent(flags: list[bool]) -> float:
    """Return the share of True in percent, rounded to 0.1."""
    return round(100.0 * sum(flags) / len(flags), 1) if flags else 0.0


def _name_of(model: Any) -> str | None:
    """Return how a model argument is named in the settings (its folder for a loaded one)."""
    if model is None or isinstance(model, str | Path):
        return None if model is None else str(model)
    for attribute in ("path", "folder"):
        if getattr(model, attribute, None) is not None:
            return str(getattr(model, attribute))
    return type(model).__name__
