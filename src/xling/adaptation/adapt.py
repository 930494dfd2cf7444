"""`xling adapt`: add a language to an existing encoder, static or transformer, from whatever data exists.

The entry point reads and checks the data (xling.adaptation.data), finds out which kind of model it was
given, refuses a language the model already lists unless told to replace it, and hands over to the kind's
own adaptation: `xling.adaptation.static` (new vocabulary rows trained against the frozen old space) or
`xling.adaptation.transformer` (new vocabulary rows, then continued masked language modelling).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from xling.adaptation.config import AdaptConfig
from xling.adaptation.data import (
    CONLLU_SUFFIXES,
    NAMED_SPEC,
    AdaptData,
    names_same_language,
    read_adapt_data,
    spec_files,
)
from xling.adaptation.result import AdaptResult, add_warning
from xling.artifacts import read_metadata
from xling.atomic import check_apart
from xling.data.conllu import read_conllu
from xling.data.languages import normalize_language, same_language
from xling.data.readers import read_monolingual
from xling.data.root import check_not_test_set
from xling.data.sources import sample_corpus_dir
from xling.embeddings.encoder import resolve_model
from xling.embeddings.st_modules import read_st_modules
from xling.embeddings.static import ST_TYPE
from xling.errors import ConfigError, DataError, XlingError

logger = logging.getLogger(__name__)
STATIC, TRANSFORMER = "static", "transformer"


def model_kind(folder: Path) -> str:
    """Return "static" for a sentence-transformers StaticEmbedding folder, "transformer" for a Hugging Face
    model folder (config.json); raise DataError for anything else."""
    modules = read_st_modules(folder)
    # by class name: sentence-transformers 6 writes the type with its new module path
    # (sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding)
    if modules and modules[0].kind == ST_TYPE.rsplit(".", 1)[-1]:
        return STATIC
    if (folder / "config.json").is_file():
        return TRANSFORMER
    raise DataError(
        "not a static sentence encoder (modules.json) or a Hugging Face model (config.json)", folder
    )


def model_languages(folder: Path) -> list[str]:
    """Return the languages the model folder's xling.json lists ([] when it has none)."""
    return [str(lang) for lang in read_metadata(folder).get("languages", [])]


def protected_texts(
    config: AdaptConfig, model_languages: list[str], language: str, earlier: Sequence[Path] = ()
) -> list[str]:
    """Return the old-language sentences whose segmentation must not change: the bundled parallel sample's
    languages that the model has but `language` (which `replace` may adapt again; all but `language` when
    the model lists none), plus the `vocabulary.protect` files and the `earlier` adaptations' text files
    (one sentence a line, `id<TAB>text`, or CoNLL-U, read as written)."""
    texts: list[str] = []
    for path in sorted(sample_corpus_dir().glob("*.tsv")):
        if _is_old_language(path.stem, model_languages, language):
            texts.extend(line.split("\t", 1)[-1] for line in read_monolingual(path))
    for name in [*config.vocabulary.protect, *earlier]:
        path = Path(name)
        # a transformer's replay trains on the protected sentences: a test split among them would be learnt
        check_not_test_set(path, "vocabulary.protect")
        if path.name.lower().endswith(CONLLU_SUFFIXES):
            # as written (`didn't`), not as syntactic words (`did n't`): that is the text whose pieces must stay
            # (the texts only: a tokenised-only file, without tags, protects as well as an annotated one)
            texts.extend(read_conllu(path, column=None).texts)
        else:
            texts.extend(line.split("\t", 1)[-1] for line in read_monolingual(path))
    return texts


def _earlier_adaptations(folder: Path, language: str) -> Iterator[dict[str, Any]]:
    """Yield the records of the model's earlier adaptations of languages other than `language`."""
    adaptations = read_metadata(folder).get("adaptations")
    for adaptation in adaptations if isinstance(adaptations, list) else []:
        if isinstance(adaptation, dict) and not names_same_language(
            language, str(adaptation.get("language", ""))
        ):
            yield adaptation


def _settings(adaptation: dict[str, Any]) -> dict[str, Any]:
    """Return the settings an adaptation recorded ({} for one that recorded none): a static adaptation's
    `settings`, a transformer adaptation's `config` (the same AdaptConfig fields, its training's added)."""
    settings = adaptation.get("settings", adaptation.get("config"))
    return settings if isinstance(settings, dict) else {}


def earlier_adaptation_texts(folder: Path, language: str, warnings: list[str] | None = None) -> list[Path]:
    """Return the text files (`text` sources, where they still exist) and the `vocabulary.protect` files that
    the model's earlier adaptations read for languages other than `language`: a language added before is an
    old one now, and a second language in its script re-segmented all of its text with the new pieces (a
    related one: 500 of 500 sentences) unless its text was protected. Relative paths are read from the
    working folder, as recorded; a text file not found is a warning (added to `warnings` too: the adapted
    model's xling.json says so). `earlier_adaptation_sentences` gives what they read from pairs."""
    found: list[Path] = []
    for adaptation in _earlier_adaptations(folder, language):
        for source in adaptation.get("data") or []:
            if isinstance(source, dict) and source.get("kind") == "text":
                path = Path(str(source.get("source", "")))
                if path.is_file():
                    if path not in found:
                        found.append(path)
                else:  # a relative path recorded by a run in another folder: its language's text may now move
                    message = (f"{adaptation.get('language')}'s adaptation read {path}, not found from {Path.cwd()}: "
                               "its text is not protected; run from the folder that adaptation ran in, or add "
                               "the file to vocabulary.protect")  # fmt: skip
                    add_warning(warnings if warnings is not None else [], message)
        vocabulary = _settings(adaptation).get("vocabulary")
        protect = vocabulary.get("protect") if isinstance(vocabulary, dict) else None
        for name in protect if isinstance(protect, list) else []:
            if (path := Path(str(name))).is_file() and path not in found:
                found.append(path)
    return found


def earlier_adaptation_sentences(folder: Path, language: str, data_root: str,
                                 warnings: list[str] | None = None) -> list[str]:  # fmt: skip
    """Return the new-language sides of the pairs the model's earlier adaptations (of languages other than
    `language`) read: their pair files (dictionary, parallel), their UDHR and Swadesh files (under the data
    root they recorded, else `data_root`, "": the default data folder). A language added from pairs alone
    (xling-mini's kat, tha, tam: the UDHR and a Swadesh list) had none of its text protected, and a second
    language in its script re-segmented it. One that cannot be read any more is a warning, as a text file
    not found is (`earlier_adaptation_texts`)."""
    from xling.adaptation.data import _read_pairs, _swadesh_code, _udhr_code
    from xling.data.swadesh import swadesh_folder
    from xling.data.udhr import udhr_file, udhr_folder

    found: list[str] = []
    for adaptation in _earlier_adaptations(folder, language):
        earlier, settings = str(adaptation.get("language", "")), _settings(adaptation)
        pivot = str(settings.get("pivot") or "eng")
        recorded_root = settings.get("data")  # where it read them
        root_of_run = recorded_root if isinstance(recorded_root, str) and recorded_root else data_root
        for source in adaptation.get("data") or []:
            if not isinstance(source, dict) or source.get("kind") not in ("dictionary", "parallel"):
                continue
            spec = str(source.get("source", ""))
            try:
                if spec == "udhr":
                    root = udhr_folder(root_of_run or None)
                    found += read_monolingual(udhr_file(root, _udhr_code(root, earlier)))
                elif spec == "swadesh":
                    root = swadesh_folder(root_of_run or None)
                    path = root / f"{_swadesh_code(root, earlier)}-000.txt"
                    found += [word for line in read_monolingual(path) for word in line.split("\t") if word]
                elif spec != "sample":  # the bundled sample's languages are protected anyway
                    found += [new for _, new in _read_pairs(spec, str(source["kind"]), earlier, pivot)[1]]
            except XlingError as error:
                add_warning(warnings if warnings is not None else [],
                            f"{earlier}'s adaptation read {spec}, which cannot be read now ({error}): that text "
                            "is not protected; add it to vocabulary.protect")  # fmt: skip
    return found


def files_the_model_trained_on(folder: Path) -> set[Path]:
    """Return the resolved paths of the existing files that the config in the model's xling.json names (a
    plain path or an `xxx-yyy=path` spec, anywhere in it), and its earlier adaptations' data sources: the
    data its training read."""
    found: set[Path] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value:
            match = NAMED_SPEC.match(value)
            path = Path(match["path"] if match else value)
            if path.is_file():
                found.add(path.resolve())

    metadata = read_metadata(folder)
    walk(metadata.get("config", {}))
    # a model adapted before records each adaptation's sources, not a config
    adaptations = metadata.get("adaptations")
    for adaptation in adaptations if isinstance(adaptations, list) else []:
        if isinstance(adaptation, dict):
            walk([source.get("source") for source in adaptation.get("data", []) if isinstance(source, dict)])
    return found


def dev_pair_kind(data: AdaptData, kind: str) -> str | None:
    """Return the kind of pairs the dev figures hold out: parallel pairs when there are any, else a static
    encoder's dictionary pairs (a transformer's dev pairs are parallel only); None when there are none."""
    if data.parallel:
        return "parallel"
    return "dictionary" if kind == STATIC and data.dictionary else None


def seen_data_warnings(data: AdaptData, folder: Path, dev_kind: str | None) -> list[str]:
    """Return a warning for each pair file of `dev_kind` (the one the dev pairs come from) that the model
    itself was trained on: the pairs held out of it are then not unseen by the old rows, and "before" is
    recall. A seen file of the other kind teaches no dev pair (a dictionary beside parallel pairs)."""
    seen = files_the_model_trained_on(folder)
    return [f"{source['source']}: {folder} was trained on this file too (its xling.json config): the dev "
            "pairs held out of it are not new to the model, so its dev figures (before all) measure recall"
            for source in data.sources
            if source["kind"] == dev_kind and Path(str(source["source"])).is_file()
            and Path(str(source["source"])).resolve() in seen]  # fmt: skip


def new_scripts(config: AdaptConfig, data: AdaptData) -> list[str]:
    """Return the scripts new pieces may be in: `vocabulary.scripts`, else the language's script (AdaptData.script:
    from its pairs when it has any, else its text; Japanese and Korean also take Han)."""
    if config.vocabulary.scripts:
        return list(config.vocabulary.scripts)
    main = data.script
    if main is None:
        return []
    return [main, "Hani"] if main in ("Jpan", "Kore") else [main]


def relative_reading(config: AdaptConfig, data: AdaptData, known: list[str]) -> Callable[..., str] | None:
    """Return how `config.relative`'s script writes a text of the new language (None without a relative),
    noting the relative in `data.relative`; raise ConfigError naming `relative` when the model lacks it or its script cannot be written from the new
    language's."""
    from xling.adaptation.transliteration import language_script, supported, supported_pairs, transliterate

    if not config.relative.strip():
        return None
    relative = normalize_language(config.relative, where="relative")
    if known and not any(same_language(relative, old) for old in known):
        raise ConfigError(f"relative: the model does not list {relative} among its languages")
    target = language_script(config.relative) or language_script(relative)
    if target is None:
        raise ConfigError(f"relative: no script known for {config.relative!r}; name it with the language, "
                          f"e.g. {relative}_Gujr")  # fmt: skip
    if data.script is None:
        raise ConfigError(f"relative: the {data.language} data has no letters to transliterate")
    if data.script == target:
        raise ConfigError(f"relative: {data.language} and {relative} are both written in {target}: there is "
                          "nothing to transliterate (the new pieces already start from the old ones)")  # fmt: skip
    if not supported(data.script, target):
        raise ConfigError(f"relative: {data.language} text in {data.script} cannot be transliterated into "
                          f"{target} ({relative}); supported: {', '.join(supported_pairs())}")  # fmt: skip
    data.relative = f"{relative}, {data.script}>{target}"
    return partial(transliterate, source=data.script, target=target)


def _is_old_language(code: str, model_languages: list[str], language: str) -> bool:
    """Return whether text in `code` is in one of the model's languages other than the one being added (when
    it lists none: any but the new one)."""
    if names_same_language(code, language):
        # the new language, or one --replace adapts again: its own text is what it learns from. By member:
        # the Arabic sample (`ara`) is Standard Arabic's, still protected when Egyptian Arabic is added
        return False
    return not model_languages or any(same_language(code, old) for old in model_languages)


def data_files(config: AdaptConfig) -> list[tuple[str, str]]:
    """Return (how a message names it, path) of each file `config` reads: its text, dictionary and parallel
    files (`spec_files`) and its `vocabulary.protect` files."""
    files = [(f"the --{field_name} file {path}", path) for field_name, path in spec_files(config)]
    return files + [(f"the vocabulary.protect file {path}", path) for path in config.vocabulary.protect]


def adapt(
    config: AdaptConfig, *, detector: object | None = None, say: Callable[[str], object] | None = None
) -> AdaptResult:
    """Return the result of adding `config.language` to `config.model` (see the module docstring).

    `detector` (a LanguageIdentifier) checks the text's language; `say` receives progress lines.
    """
    config.validate()
    folder = resolve_model(config.model)
    # --overwrite clears or moves the output aside: a model or a data file inside it (or around it) would go
    # with it
    check_apart(config.output, [("the model folder", folder), *data_files(config)])
    kind = model_kind(folder)
    language = normalize_language(config.language, where="language")
    known = model_languages(folder)
    # by the language each code names in data: a model listing `que` lacks `quz`, one listing `ara` (Standard
    # Arabic) lacks `arz`, but one listing `cmn` has `zho`; an adaptation of a model that lists no languages
    # records its language in `adaptations` only
    adapted = [str(entry.get("language", "")) for entry in read_metadata(folder).get("adaptations", [])]
    if any(names_same_language(language, old) for old in [*known, *adapted] if old) and not config.replace:
        # only a static encoder keeps its rows: a transformer trains shared weights (full: all; LoRA: the biases)
        kept = " (the rows it has stay as they are)" if kind == STATIC else ""
        raise ConfigError(f"language: {folder} already has {language}; pass --replace (replace=True) to adapt it "
                          f"again{kept}")  # fmt: skip
    if known and not any(
        same_language(normalize_language(config.pivot, where="pivot"), old) for old in known
    ):
        raise ConfigError(f"pivot: {folder} does not list {config.pivot} among its languages")
    data = read_adapt_data(config, detector=detector)
    data.reading = relative_reading(config, data, known)
    seen = seen_data_warnings(data, folder, dev_pair_kind(data, kind))
    data.warnings.extend(seen)
    data.seen_by_base = bool(seen)
    for warning in data.warnings:
        logger.warning(warning)
    # the pivot side of the pairs is old-language text too (a static encoder's targets are its vectors)
    earlier = earlier_adaptation_texts(folder, language, data.warnings)
    replacing = any(names_same_language(language, old) for old in [*known, *adapted] if old)
    if kind == STATIC and replacing and not config.static.train_unprotected_old_rows:
        # (--replace) the language's rows, of the base or an earlier adaptation, are old rows, frozen as any
        add_warning(data.warnings, f"replace: the rows the model has for {language} stay as they are; "
                                   "its new text trains new pieces only (static.train_unprotected_old_rows=true "
                                   "trains the old rows its text uses that no protected text does)")  # fmt: skip
    sentences = [*protected_texts(config, known, language, earlier), *(p for p, _ in data.parallel),
                 *earlier_adaptation_sentences(folder, language, config.data, data.warnings)]  # fmt: skip
    # the protected files decide the new pieces (and a transformer replays them): a resumed run checks them too
    data.files.extend([*(Path(name) for name in config.vocabulary.protect), *earlier])
    if kind == STATIC:
        from xling.adaptation.static import adapt_static

        return adapt_static(config, folder, data, [*sentences, *(p for p, _ in data.dictionary)], say=say)
    from xling.adaptation.transformer import adapt_transformer

    # sentences only: a transformer also replays them and measures the old languages' perplexity on them
    return adapt_transformer(config, folder, data, sentences, say=say)


__all__ = ["AdaptData", "adapt", "model_kind"]
