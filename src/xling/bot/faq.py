"""FAQ files: what a support bot answers from, and the question sets it is tuned and scored on.

An FAQ is one of:

- a `question<TAB>answer` file (or `id<TAB>question<TAB>answer`; every line the same), in one language;
- a JSONL file, one `{"question": ..., "answer": ..., "answers": {lang: text}, "id": ...}` object a line
  (`answers` and `id` optional): the answer as stored in other languages;
- a folder in the layout of the bundled sample (`xling/data/samples/faq`): `faq.<lang>.tsv`
  (`id<TAB>question<TAB>answer`) and `answers.<lang>.tsv` (`id<TAB>answer`) for the other languages.

Question sets (`questions.<lang>.tsv`, `offtopic.<lang>.tsv`, `dev.<lang>.tsv`) are `id<TAB>question`
lines, the id `-` marking a question the FAQ does not answer.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from xling.data.languages import normalize_language, special_code_meaning
from xling.data.readers import decoded_lines, json_object_line, line_text, require_file
from xling.errors import DataError, LanguageCodeError

__all__ = [
    "NO_ANSWER",
    "FaqEntry",
    "LabelledQuestion",
    "read_faq",
    "read_question_sets",
    "read_questions",
    "sample_faq_dir",
]

NO_ANSWER = "-"
"""The id of a question the FAQ does not answer, in question sets."""

# any code between the dots: `_code_of` refuses an unknown one naming the file, where a narrower pattern
# would skip `answers.es-419.tsv` (a region's digits) without a word
_FOLDER_FAQ = re.compile(r"^faq\.([^.]+)\.tsv$")
_FOLDER_ANSWERS = re.compile(r"^answers\.([^.]+)\.tsv$")
_JSONL_KEYS = frozenset({"id", "question", "answer", "answers"})


@dataclass
class FaqEntry:
    """One question and its answer, with the answer in other languages where it is stored."""

    id: str
    question: str
    answer: str
    """The answer in the FAQ's own language."""
    answers: dict[str, str] = field(default_factory=dict)
    """Other languages (ISO 639-3) -> the answer written in that language."""

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON object (the layout of a bot's faq.jsonl)."""
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "answers": dict(self.answers),
        }


@dataclass(frozen=True)
class LabelledQuestion:
    """A question from a question set and the FAQ entry that answers it (None: none does)."""

    id: str | None
    text: str
    where: str
    """file:line, for messages."""


def sample_faq_dir() -> Path:
    """Return the folder of the bundled FAQ sample (45 entries in English, answers in 8 more languages)."""
    return Path(str(resources.files("xling.data") / "samples" / "faq"))


def read_faq(path: str | Path, language: str = "eng") -> list[FaqEntry]:
    """Return the entries of an FAQ file or folder (see the module docstring); `language` is the language of
    a TSV or JSONL file's questions (a folder names its own). Raises DataError naming file and line."""
    source = Path(path)
    if source.is_dir():
        return _read_folder(source)
    require_file(source)
    language = answer_key(language, "language")
    # faq.jsonl.gz too: the readers open gzip, and its `.gz` suffix sent it to the TSV reader
    if source.name.lower().removesuffix(".gz").endswith((".jsonl", ".json")):
        entries = _read_jsonl(source, language)
    else:
        entries = _read_tsv(source)
    if not entries:
        raise DataError("no FAQ entries", source)
    return entries


def faq_language(path: str | Path, language: str = "eng") -> str:
    """Return the language of an FAQ's questions: a folder's `faq.<lang>.tsv`, else `language`; keyed as its
    stored answers are (`answer_key`: `zh-Hant` -> zho_Hant, `zh` -> zho), so that an answer stored in its
    own language and script is refused and one in another script of it is told apart."""
    source = Path(path)
    if source.is_dir():
        return _folder_language(source)[0]
    return answer_key(language, "language")


def written_language(code: str, where: str) -> str:
    """Return the ISO 639-3 code of a language FAQ text is written in; LanguageCodeError naming `where` for
    an unknown code or one of ISO 639's codes that name no language (und, zxx, mul, mis), refused as
    `xling langid train` refuses them: the bot would store answers under no language, and `und` is what
    its detector says of a question it cannot place."""
    language = normalize_language(code, where=where)
    if meaning := special_code_meaning(language):
        raise LanguageCodeError(f"{where}: {code!r} names no language ({meaning}); give the "
                                "language the FAQ is written in (eng, deu)")  # fmt: skip
    return language


def answer_key(code: str, where: str) -> str:
    """Return the key a stored answer is kept under: its language's ISO 639-3 code (`written_language`), with
    the script where the code names one its language is written in besides others (`zh-Hant` -> zho_Hant,
    `zh-TW` -> zho_Hant, `sr-Latn` -> srp_Latn; `de-Latn` -> deu), so that an FAQ may store both forms of a
    language and a question is answered in its own. The FAQ's own language is keyed so too (`faq_language`):
    `faq.zh-Hant.tsv` is zho_Hant, and `answers.zh-TW.tsv` beside it is a second set of its own answers."""
    return with_script(written_language(code, where), code, where)


def with_script(language: str, code: str, where: str) -> str:
    """Return `language` (ISO 639-3, read from `code`) with the script `code` names, where that is not the
    language's only usual one (`zho` of `zh-TW`: zho_Hant; `deu` of `de-Latn`: deu)."""
    from xling.langid.labels import USUAL_SCRIPTS, Label, parse_label

    script = parse_label(code, where=where).script
    return str(Label(language, script if script and USUAL_SCRIPTS.get(language) != script else None))


def read_questions(path: str | Path) -> list[LabelledQuestion]:
    """Return the `id<TAB>question` lines of a question set (`-` as id: a question the FAQ does not answer)."""
    source = require_file(path)
    questions = []
    for line in decoded_lines(source, None):
        text = line_text(line, source)
        if not text.strip():
            continue
        parts = text.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DataError("expected id<TAB>question (id - for a question the FAQ does not answer)", source,
                            line.number)  # fmt: skip
        key = parts[0].strip()
        questions.append(
            LabelledQuestion(None if key == NO_ANSWER else key, parts[1].strip(), f"{source}:{line.number}")
        )
    return questions


def read_question_sets(folder: str | Path, prefix: str) -> dict[str, list[LabelledQuestion]]:
    """Return {language: questions} from every `<prefix>.<lang>.tsv` in `folder`, languages sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError("not a folder", root)
    sets: dict[str, list[LabelledQuestion]] = {}
    files: dict[str, Path] = {}
    for path in sorted(root.glob(f"{prefix}.*.tsv")):
        code = _code_of(path.name[len(prefix) + 1 : -len(".tsv")], path)
        if code in files:  # one would replace the other's questions unseen
            raise DataError(
                f"{files[code].name} and {path.name} are both {code}: keep one file a language", path
            )
        files[code] = path
        sets[code] = read_questions(path)
    return sets


def _read_tsv(path: Path) -> list[FaqEntry]:
    """Return the entries of a `question<TAB>answer` (or `id<TAB>question<TAB>answer`) file."""
    entries: list[FaqEntry] = []
    columns: int | None = None
    seen: dict[str, int] = {}
    for line in decoded_lines(path, None):
        text = line_text(line, path)
        if not text.strip():
            continue
        parts = [part.strip() for part in text.split("\t")]
        if len(parts) not in (2, 3):
            raise DataError(f"expected question<TAB>answer (or id<TAB>question<TAB>answer), found {len(parts)} "
                            "tab-separated fields", path, line.number)  # fmt: skip
        if columns is None:
            columns, first = len(parts), line.number
        elif len(parts) != columns:  # either line may be the wrong one (a tab inside an answer)
            raise DataError(f"{len(parts)} tab-separated fields where line {first} has {columns}: give every line "
                            "an id, or none (is there a tab inside a question or an answer?)", path, line.number)  # fmt: skip
        key = parts[0] if columns == 3 else str(len(entries) + 1)
        question, answer = parts[-2], parts[-1]
        _check_entry(key, question, answer, seen, path, line.number)
        entries.append(FaqEntry(key, question, answer))
    return entries


def _read_jsonl(path: Path, language: str) -> list[FaqEntry]:
    """Return the entries of a JSONL FAQ (`question`, `answer`, optional `answers` and `id`); other fields
    are a warning naming the first line of each set of them. An entry without an id gets one that no other
    entry has (`_automatic_ids`)."""
    entries: list[FaqEntry] = []
    seen: dict[str, int] = {}
    unknown_keys: dict[str, int] = {}
    automatic: list[int] = []  # indices of the entries without an id
    for line in decoded_lines(path, None):
        text = line_text(line, path)
        if not text.strip():
            continue
        record = json_object_line(text, path, line.number)
        if unknown := sorted(set(record) - _JSONL_KEYS):
            unknown_keys.setdefault(", ".join(unknown), line.number)
        question, answer = record.get("question"), record.get("answer")
        if not isinstance(question, str) or not isinstance(answer, str):
            raise DataError('needs "question" and "answer" strings', path, line.number)
        key = record.get("id")
        if "id" in record and (not isinstance(key, str | int) or isinstance(key, bool)):
            raise DataError('"id" must be a string or a number', path, line.number)
        key = None if "id" not in record else str(key).strip()
        _check_entry(key, question.strip(), answer.strip(), seen, path, line.number)
        raw_answers = record.get("answers")
        answers = {} if raw_answers is None else answers_of(raw_answers, language, answer.strip(), path,
                                                             line.number)  # fmt: skip
        if key is None:
            automatic.append(len(entries))
        entries.append(FaqEntry(key or "", question.strip(), answer.strip(), answers))
    for index, key in zip(automatic, _automatic_ids(automatic, set(seen)), strict=True):
        entries[index].id = key
    for keys, number in unknown_keys.items():  # a misspelt "answers" would lose every stored translation
        warnings.warn(f"{path}:{number}: unknown field(s) {keys} ignored (an entry has id, question, answer "
                      "and answers)", stacklevel=4)  # fmt: skip
    return entries


def answers_of(
    raw: Any, language: str, answer: str, path: Path | str | None, line: int | None
) -> dict[str, str]:
    """Return the `answers` field of a JSONL entry (or a FaqEntry's) as {ISO 639-3, with a script where the
    code names one (`answer_key`): text} (the FAQ's own language left out: it is `answer`); DataError naming
    the place for a wrong type, two keys of one language (and script), or an answer in the FAQ's language
    other than `answer`."""
    if not isinstance(raw, dict):
        raise DataError('"answers" must be an object {language: answer}', path, line)
    answers: dict[str, str] = {}
    for code, text in raw.items():
        if not isinstance(text, str) or not text.strip():
            raise DataError(f'"answers"."{code}" must be a non-empty string', path, line)
        try:
            lang = answer_key(str(code), f'"answers"."{code}"')
        except LanguageCodeError as error:
            raise DataError(str(error), path, line) from None
        if lang == language and text.strip() == answer:
            continue
        if lang == language:  # the FAQ's own language is `answer`: a second one would be dropped unseen
            raise DataError(f'"answers"."{code}" is in the FAQ\'s own language ({language}): put that answer '
                            'in "answer"', path, line)  # fmt: skip
        if lang in answers:
            raise DataError(f'"answers"."{code}" is a second answer in {lang} (another key names the same '
                            "language)", path, line)  # fmt: skip
        answers[lang] = text.strip()
    return answers


def _automatic_ids(indices: list[int], given: set[str]) -> list[str]:
    """Return the ids of the entries at `indices` (0-based, ascending) that have none: the entry's number
    (index + 1), as a file without any id has always numbered them, or when that is one of the `given` ids
    or was handed out already, the next number free. Made after every line is read: a number taken from
    the line alone would clash with an id a later line gives ("2" on line 1, no id on line 2)."""
    taken = set(given)
    keys = []
    for index in indices:
        number = index + 1
        while str(number) in taken:
            number += 1
        taken.add(str(number))
        keys.append(str(number))
    return keys


def _check_entry(
    key: str | None, question: str, answer: str, seen: dict[str, int], path: Path, line: int
) -> None:
    """Raise DataError naming the line for an empty id, question or answer, or an id seen before (`key`
    None: the entry has no id, and gets one that clashes with none: `_automatic_ids`)."""
    for name, value in (("id", key), ("question", question), ("answer", answer)):
        if not value and (name != "id" or key is not None):
            raise DataError(f"empty {name}", path, line)
    if key is None:
        return
    if key == NO_ANSWER:  # question sets mark an off-topic question so: such an entry could never be right
        raise DataError(
            f"id {NO_ANSWER!r} is reserved (question sets mark questions with no answer so)", path, line
        )
    if key in seen:
        raise DataError(f"id {key!r} was already used on line {seen[key]}", path, line)
    seen[key] = line


def _read_folder(folder: Path) -> list[FaqEntry]:
    """Return the entries of a folder holding faq.<lang>.tsv and answers.<lang>.tsv files."""
    language, faq_path = _folder_language(folder)
    entries = _read_tsv(require_file(faq_path))
    if not entries:
        raise DataError("no FAQ entries", faq_path)
    by_id = {entry.id: entry for entry in entries}
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        match = _FOLDER_ANSWERS.match(path.name)
        if not match:
            continue
        try:  # answers.zh-Hant.tsv beside answers.zh-Hans.tsv: each script its own answers
            lang = answer_key(match.group(1), path.name)
        except LanguageCodeError as error:
            raise DataError(str(error), path) from None
        if lang == language:
            raise DataError(
                f"answers in the FAQ's own language ({language}) are those of {faq_path.name}", path
            )
        if lang in files:  # one file's answers would replace the other's unseen
            raise DataError(
                f"{files[lang].name} and {path.name} are both {lang}: keep one file a language", path
            )
        files[lang] = path
        lines: dict[str, int] = {}
        for line in decoded_lines(path, None):
            text = line_text(line, path)
            if not text.strip():
                continue
            parts = [part.strip() for part in text.split("\t")]
            if len(parts) != 2 or not all(parts):
                raise DataError("expected id<TAB>answer", path, line.number)
            if parts[0] not in by_id:
                raise DataError(f"id {parts[0]!r} is not in {faq_path.name}", path, line.number)
            if parts[0] in lines:
                raise DataError(
                    f"id {parts[0]!r} was already answered on line {lines[parts[0]]}", path, line.number
                )
            lines[parts[0]] = line.number
            by_id[parts[0]].answers[lang] = parts[1]
    return entries


def _folder_language(folder: Path) -> tuple[str, Path]:
    """Return (language, path) of the one faq.<lang>.tsv in an FAQ folder, the language keyed as a stored
    answer's (`answer_key`: faq.zh-Hant.tsv is zho_Hant); DataError if none or several."""
    found = [path for path in sorted(folder.iterdir()) if _FOLDER_FAQ.match(path.name)]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise DataError(f"{what} faq.<lang>.tsv files: an FAQ folder holds exactly one", folder)
    match = _FOLDER_FAQ.match(found[0].name)
    assert match is not None
    return _code_of(match.group(1), found[0], written=True), found[0]


def _code_of(code: str, path: Path, *, written: bool = False) -> str:
    """Return the ISO 639-3 code in a file name; DataError naming the file for an unknown one (and, when
    `written`, the file holds FAQ text, for one that names no language: `written_language`, the code then
    keeping the script it names where its language has several: `answer_key`)."""
    try:
        if written:
            return answer_key(code, path.name)
        return normalize_language(code, where=path.name)
    except LanguageCodeError as error:
        raise DataError(str(error), path) from None
