"""`xling align words`: map two languages' word vectors into one space (MUSE and VecMap in one place).

Methods:
- procrustes:  supervised. Orthogonal Procrustes on a seed dictionary, then MUSE's refinement.
               With seed_pairs "identical" or "numerals" it is semi-supervised (no dictionary needed),
               and a small dictionary (25 pairs) works too.
- identical:   procrustes seeded with the strings both vocabularies share (Smith et al. 2017).
- adversarial: unsupervised MUSE: adversarial training, then refinement.
- selflearn:   VecMap's self-learning; unsupervised unless a seed is given (seed_pairs, dictionary).

Both vocabularies are cut to their `max_vocab` most frequent words and normalised (`normalize`) first.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from xling.alignment.words.csls import INDUCTION_METHODS
from xling.alignment.words.dictionary import (
    INDUCTION_MODES,
    RANK_MODES,
    identical_strings,
    numeral_pairs,
    read_dictionary,
)
from xling.alignment.words.mapping import KIND, META_FILE, WordMapping
from xling.alignment.words.normalize import fit_normalization, parse_normalization
from xling.alignment.words.procrustes import procrustes, refine
from xling.alignment.words.provenance import seed_file_info, vectors_info
from xling.artifacts import METADATA_FILE
from xling.atomic import atomic_folder, check_apart, check_replaceable
from xling.config import check_int, load_config
from xling.data.root import check_not_test_set
from xling.errors import ConfigError, DataError
from xling.vectors.formats import check_unicode_errors

if TYPE_CHECKING:  # annotations only: importing xling.vectors also loads its file formats
    from xling.vectors.core import WordVectors

METHODS: tuple[str, ...] = ("procrustes", "identical", "adversarial", "selflearn")
SEED_SOURCES: tuple[str, ...] = ("dictionary", "identical", "numerals")
# Fields of the nested method configs that default to this config's value when they exist there.
SHARED_FIELDS: tuple[str, ...] = ("seed", "csls_k", "chunk_size")


@dataclass
class WordAlignConfig:
    """Settings of `xling align words`; every default lives here. They are MUSE's where MUSE has one
    default, except where a field says whose it is: MUSE's supervised.py and unsupervised.py differ in their
    refinement defaults, and xling takes some from each and its normalisation from VecMap (see `normalize`,
    `max_rank`, `induction_mode` and the best-W note below).

    `seed_pairs` says where a seed dictionary comes from: "dictionary" (the file `dictionary`; for
    selflearn, no file means unsupervised), "identical" (strings in both vocabularies) or "numerals"
    (digit strings in both). `max_rank` bounds the words among which refinement induces dictionaries,
    `max_vocab` the words used at all (0: every word, as for max_rank). `max_rank_mode` says how:
    "cutoff" (default) induces among the max_rank most frequent words of each side only, CSLS's r terms
    measured there too (VecMap's vocabulary cutoff; cheap at 200k words); "muse" is MUSE's dico_max_rank
    exactly: those words are translated over the whole other vocabulary, r terms over whole vocabularies,
    and a pair whose other word ranks beyond max_rank is dropped (a |src| x |tgt| pass each refinement,
    minutes at 200k x 200k on a CPU). Both give the same dictionaries when neither vocabulary exceeds
    max_rank. `lowercase` finds seed pairs (a dictionary's, identical strings) among lowercased words (the
    most frequent spelling wins), as `xling eval bli` does with its `lowercase`; MUSE lowercases its
    vocabularies and dictionaries.
    `criterion` logs MUSE's unsupervised criterion after each refinement (a 10k x 10k CSLS pass that adds
    about a third to each refinement's time). Adversarial always measures it, the adversarial mapping's
    too, and keeps the W of the best criterion, the unrefined adversarial one included (MUSE's
    save_best/reload_best): its log's refinement entries (iteration 0: the adversarial W) say which in
    `kept`, and so does the console. Procrustes and identical return the last refinement's W instead; MUSE's
    supervised.py keeps its best W there too: by that unsupervised criterion for identical-strings seeds
    (dico_train identical_char), by P@1 on the evaluation dictionary for a seed file.
    The mapping's `info` records what it was trained on (each side's vectors file, a seed dictionary
    file's source words), which `xling eval bli` checks (xling.alignment.words.provenance).
    `adversarial` and `selflearn` are options of those methods (fields of AdversarialConfig and
    SelfLearningConfig), e.g. {"epochs": 3}.
    `restarts` (adversarial only) runs adversarial training + refinement that many times, with seeds
    seed, seed + 1, ..., and keeps the run whose kept mapping (the best of its adversarial and refined
    ones) has the highest criterion: MUSE's own model selection, so still unsupervised. On small
    vocabularies one seed in several fails outright (P@1 ~0) and the criterion tells it apart; the cost
    is `restarts` times one run.
    """

    method: str = "procrustes"
    """How the mapping is learned: "procrustes", "identical", "adversarial" or "selflearn" (see the
    module docstring)."""

    normalize: str = "unit,center,unit"
    """Normalisation steps applied to both vocabularies first, in order: unit, center or none,
    comma-separated. The default is VecMap's (its recommended unit,center,unit); MUSE's
    normalize_embeddings defaults to "" (none; "none" here)."""

    dictionary: str = ""
    """A seed dictionary file (source<TAB>target per line) for seed_pairs "dictionary" (with another
    seed_pairs it is a ConfigError, not ignored); "" for none (procrustes then needs another seed_pairs;
    selflearn runs unsupervised)."""

    seed_pairs: str = "dictionary"
    """Where the seed pairs come from: "dictionary" (the file `dictionary`), "identical" (strings in both
    vocabularies) or "numerals" (digit strings in both)."""

    refinements: int = 5
    """Rounds of MUSE's refinement (induce a dictionary, Procrustes again); 0 = none. Not for selflearn."""

    max_rank: int = 15000
    """The most frequent words of each side among which refinement induces dictionaries; 0 = all. Not for
    selflearn (its `vocabulary_cutoff`). The default is MUSE's unsupervised dico_max_rank (unsupervised.py);
    its supervised.py, which procrustes and identical follow otherwise, defaults to 10000."""

    max_rank_mode: str = "cutoff"
    """How max_rank bounds induction: "cutoff" (VecMap's vocabulary cutoff; cheap) or "muse" (MUSE's
    dico_max_rank exactly; a |src| x |tgt| pass each refinement)."""

    csls_k: int = 10
    """Neighbours of CSLS's r terms (>= 1); also the default `csls_k` of adversarial and selflearn."""

    induction_mode: str = "mutual"
    """Which induced pairs refinement keeps: "mutual" (best both ways), "s2t", "t2s" or "union". The
    default is MUSE's supervised dico_build S2T&T2S (supervised.py); its unsupervised.py, which adversarial
    follows otherwise, refines with S2T ("s2t")."""

    induction_method: str = "csls"
    """How refinement ranks target words when inducing: "csls" or "nn" (plain nearest neighbour)."""

    max_vocab: int = 200000
    """Words of each vocabulary used at all, most frequent first (MUSE's 200000); 0 = every word."""
    unicode_errors: str = "strict"
    """A word of a vectors file that is not UTF-8: strict (an error), skip (its row dropped) or replace
    (U+FFFD for each bad byte), as `xling.vectors.load_vectors` reads it."""

    chunk_size: int = 2048
    """Source rows per similarity block (bounds memory); also the default of adversarial and selflearn."""

    seed: int = 0
    """Seed (>= 0) of the random methods: the default `seed` of adversarial and selflearn; procrustes and
    identical draw nothing."""

    restarts: int = 1
    """Adversarial only: runs with seeds seed, seed + 1, ...; the criterion of each run's kept mapping picks
    one (>= 1)."""

    criterion: bool = True
    """Log MUSE's unsupervised criterion after each refinement (about a third more time per refinement;
    adversarial measures it anyway, to keep the best of its adversarial and refined mappings)."""

    lowercase: bool = False
    """Find seed pairs among lowercased vocabularies, as MUSE does (it lowercases its vocabularies): a seed
    dictionary's words are looked up lowercased, identical strings (method identical, seed_pairs
    "identical") are matched lowercased, the most frequent spelling of each word winning in both; numerals
    have no case. A dictionary is always looked up so where neither vocabulary has an uppercase word.
    Methods without a seed (adversarial, unsupervised selflearn) have nothing to lowercase."""

    adversarial: dict[str, Any] = field(default_factory=dict)
    """Options of method "adversarial": fields of AdversarialConfig, e.g. {"epochs": 3}."""

    selflearn: dict[str, Any] = field(default_factory=dict)
    """Options of method "selflearn": fields of SelfLearningConfig, e.g. {"max_iterations": 100}."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        _choice("method", self.method, METHODS)
        check_unicode_errors(self.unicode_errors)
        parse_normalization(self.normalize)
        _choice("seed_pairs", self.seed_pairs, SEED_SOURCES)
        _choice("induction_mode", self.induction_mode, INDUCTION_MODES)
        _choice("induction_method", self.induction_method, INDUCTION_METHODS)
        _choice("max_rank_mode", self.max_rank_mode, RANK_MODES)
        for name, least in (("refinements", 0), ("max_rank", 0), ("csls_k", 1), ("max_vocab", 0),
                            ("chunk_size", 1), ("seed", 0), ("restarts", 1)):  # fmt: skip
            check_int(name, getattr(self, name), least)
        for name in ("criterion", "lowercase"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.dictionary, str | os.PathLike):
            raise ConfigError(f"dictionary: must be a path, got {self.dictionary!r}")
        if self.dictionary:  # the seed dictionary is training data: a BLI test dictionary would be scored on
            check_not_test_set(self.dictionary, "dictionary")
        for name in ("adversarial", "selflearn"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name}: must be a table of options, got {getattr(self, name)!r}")
        if self.method == "procrustes" and self.seed_pairs == "dictionary" and not self.dictionary:
            raise ConfigError(
                "dictionary: method 'procrustes' needs a seed dictionary (a source<TAB>target file), "
                "or seed_pairs 'identical' or 'numerals'"
            )
        if self.method == "identical" and (self.dictionary or self.seed_pairs == "numerals"):
            raise ConfigError(
                "method: 'identical' seeds from identical strings only; for a dictionary or numerals seed "
                "use method 'procrustes' with seed_pairs"
            )
        if self.method == "adversarial" and (self.dictionary or self.seed_pairs != "dictionary"):
            raise ConfigError(
                "method: 'adversarial' is unsupervised and takes no seed (dictionary, seed_pairs)"
            )
        # one rule for every method that reads a seed (the two above reject any seed): never left unread
        if self.dictionary and self.seed_pairs != "dictionary":
            raise ConfigError(
                f"dictionary: a seed dictionary is read only with seed_pairs 'dictionary', not "
                f"{self.seed_pairs!r}; drop `dictionary` or set seed_pairs to 'dictionary'"
            )
        if self.restarts > 1 and self.method != "adversarial":
            raise ConfigError(f"restarts: only method 'adversarial' restarts, not {self.method!r}")
        # both tables, whichever method runs: a typo in the other one's options would pass unnoticed
        for name in ("adversarial", "selflearn"):
            if name == self.method or getattr(self, name):
                _method_config(name, self)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} must be one of {', '.join(choices)}")


def align_words(
    src: WordVectors, tgt: WordVectors, config: WordAlignConfig, *, progress: bool = False
) -> WordMapping:
    """Return the WordMapping that brings `src` and `tgt` into one space as `config.method` says."""
    config.validate()
    if config.max_vocab:
        src, tgt = src.most_frequent(config.max_vocab), tgt.most_frequent(config.max_vocab)
    for vectors in (src, tgt):
        if len(vectors) < 2:
            raise DataError(f"need at least 2 word vectors, got {len(vectors)}", vectors.source)
    if src.dim != tgt.dim:  # selflearn too: its mappings are square (VecMap's)
        raise DataError(
            f"{config.method} maps between equal dimensions; the source has {src.dim} "
            f"but the target ({tgt.source}) {tgt.dim}",
            src.source,
        )
    x, src_means = fit_normalization(src.vectors, config.normalize)
    z, tgt_means = fit_normalization(tgt.vectors, config.normalize)
    # what the mapping was trained on, for `xling eval bli` to check against (provenance)
    info: dict[str, Any] = {"src_words": len(src), "tgt_words": len(tgt),
                            "src_vectors": vectors_info(src), "tgt_vectors": vectors_info(tgt)}  # fmt: skip
    seeds = _seed_pairs(src, tgt, config, info)
    steps = parse_normalization(config.normalize)

    def mapping(w_src: np.ndarray, w_tgt: np.ndarray, history: list[dict[str, Any]]) -> WordMapping:
        return WordMapping(w_src, w_tgt, steps, config.method, history, src_means, tgt_means, info)

    if config.method == "selflearn":
        w_src, w_tgt, history = _run_selflearn(x, z, seeds, config, progress)
        return mapping(w_src, w_tgt, [{"stage": "selflearn", **entry} for entry in history])
    console = Console(stderr=True) if progress else None

    def report(entry: dict[str, Any]) -> None:
        if console is None:
            return
        criterion = "" if entry["criterion"] is None else f", criterion {entry['criterion']:.4f}"
        if entry["iteration"] == 0:  # the starting W, measured only where the best W is kept
            console.print(f"{config.method} mapping before refinement{criterion}")
        else:
            console.print(
                f"refinement {entry['iteration']}/{config.refinements}: {entry['pairs']} pairs{criterion}"
            )

    def refined(w: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
        w, rounds = refine(
            x, z, w, iterations=config.refinements, max_rank=config.max_rank, k=config.csls_k,
            mode=config.induction_mode, chunk_size=config.chunk_size, callback=report,
            method=config.induction_method, criterion=config.criterion,
            keep_best=config.method == "adversarial", rank_mode=config.max_rank_mode,
        )  # fmt: skip
        if console is not None and any(entry.get("kept") for entry in rounds):
            console.print(_kept_line(rounds, config.method, config.refinements))
        return w, rounds

    if config.method == "adversarial":
        w, history = _run_adversarial(x, z, config, refined, console)
    else:
        w, rounds = refined(procrustes(x[seeds[:, 0]], z[seeds[:, 1]]))
        history = [{"stage": "refinement", **entry} for entry in rounds]
    return mapping(w, np.eye(z.shape[1], dtype=np.float32), history)


def _kept_line(rounds: list[dict[str, Any]], method: str, refinements: int) -> str:
    """Return the console line that says which W a best-kept refinement returned (`rounds` from refine)."""
    kept = next(entry for entry in rounds if entry.get("kept"))
    if kept["iteration"] == 0:
        return (
            f"kept the {method} mapping before refinement (criterion {kept['criterion']:.4f}): "
            "no refinement raised the criterion"
        )
    return f"kept refinement {kept['iteration']}/{refinements} (criterion {kept['criterion']:.4f})"


def _seed_pairs(
    src: WordVectors, tgt: WordVectors, config: WordAlignConfig, info: dict[str, Any]
) -> np.ndarray | None:
    """Return the seed dictionary as [m, 2] row pairs, None when the method runs unsupervised."""
    source = "identical" if config.method == "identical" else config.seed_pairs
    if config.method == "adversarial" or (source == "dictionary" and not config.dictionary):
        return None
    if source == "dictionary":
        dictionary = read_dictionary(config.dictionary, src.index, tgt.index, lowercase=config.lowercase)
        pairs, where = dictionary.pairs, config.dictionary
        info["seed"] = {"from": "dictionary", "path": str(config.dictionary), **dictionary.coverage.to_dict(),
                        "file": seed_file_info(config.dictionary)}  # fmt: skip
    else:
        make = identical_strings if source == "identical" else numeral_pairs
        pairs, where = make(_seed_words(src, config), _seed_words(tgt, config)), src.source
        info["seed"] = {"from": source, "pairs": len(pairs)}
    if len(pairs) == 0:
        vocab = f"the {config.max_vocab} most frequent words of " if config.max_vocab else ""
        raise DataError(
            f"no seed pair ({source}) has both words in {vocab}the two vocabularies "
            f"({src.source}, {tgt.source})",
            where,
        )
    return pairs


def _seed_words(vectors: WordVectors, config: WordAlignConfig) -> list[str]:
    """Return the words that identical strings and numerals are matched among: lowercased with
    `lowercase`, where a word's first (most frequent) spelling is matched (identical_strings keeps first
    rows), as MUSE's lowercased vocabularies keep it."""
    return [word.lower() for word in vectors.words] if config.lowercase else list(vectors.words)


def _method_config(name: str, config: WordAlignConfig) -> Any:
    """Return the config of method `name`: config.<name> options over the shared fields' values."""
    if name == "adversarial":
        from xling.alignment.words.adversarial import AdversarialConfig as method_cls
    else:
        from xling.alignment.words.selflearn import SelfLearningConfig as method_cls
    options = dict(getattr(config, name))
    known = {f.name for f in dataclasses.fields(method_cls)}
    for shared in SHARED_FIELDS:
        if shared in known:
            options.setdefault(shared, getattr(config, shared))
    if "init_normalize" in known:  # VecMap normalises the sorted similarity rows as it does the embeddings
        options.setdefault("init_normalize", config.normalize)
    try:
        method_config = load_config(method_cls, **options)
        if name == "selflearn":  # needs the fields the user set, known only after load_config
            from xling.alignment.words.selflearn import check_dewhitening

            check_dewhitening(method_config)
    except ConfigError as error:
        raise ConfigError(f"{name}: {str(error).removeprefix('options: ')}") from None
    return method_config


def _run_adversarial(
    x: np.ndarray,
    z: np.ndarray,
    config: WordAlignConfig,
    refined: Callable[[np.ndarray], tuple[np.ndarray, list[dict[str, Any]]]],
    console: Console | None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Return the kept mapping (adversarial or refined, see refine's keep_best) of the best restart by the
    criterion, and every run's log.

    Progress (bars, restart lines) is shown when `console` is given.
    With restarts, each history entry carries its `restart` and `seed`, and a last entry (stage
    "selection") names the chosen restart with the criteria of all.
    """
    from xling.alignment.words.adversarial import adversarial_mapping

    options = _method_config("adversarial", config)
    history: list[dict[str, Any]] = []
    best: tuple[float, np.ndarray, int] | None = None
    criteria: list[float] = []
    for restart in range(config.restarts):
        seed = options.seed + restart
        run = {"restart": restart, "seed": seed} if config.restarts > 1 else {}
        w, epochs = adversarial_mapping(x, z, dataclasses.replace(options, seed=seed),
                                        progress=console is not None)  # fmt: skip
        w, rounds = refined(np.asarray(w, dtype=np.float32))
        history += [{"stage": "adversarial", **run, **entry} for entry in epochs]
        history += [{"stage": "refinement", **run, **entry} for entry in rounds]
        if config.restarts == 1:
            return w, history
        # the kept mapping's criterion, as refinement measured it (the same 10k x 10k CSLS pass)
        criterion = next(entry["criterion"] for entry in rounds if entry.get("kept"))
        criteria.append(criterion)
        if console is not None:
            console.print(f"restart {restart + 1}/{config.restarts} (seed {seed}): criterion {criterion:.4f}")
        if best is None or criterion > best[0]:
            best = (criterion, w, restart)
    assert best is not None  # restarts >= 1 is validated
    history.append({"stage": "selection", "restart": best[2], "seed": options.seed + best[2],
                    "criterion": best[0], "criteria": criteria})  # fmt: skip
    return best[1], history


def _run_selflearn(
    x: np.ndarray, z: np.ndarray, seeds: np.ndarray | None, config: WordAlignConfig, progress: bool
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    from xling.alignment.words.selflearn import self_learning

    w_src, w_tgt, history = self_learning(
        x, z, _method_config("selflearn", config), seed_pairs=seeds, progress=progress
    )
    return np.asarray(w_src, dtype=np.float32), np.asarray(w_tgt, dtype=np.float32), list(history)


@dataclass
class WordAlignFilesReport:
    """What `align_word_vector_files` wrote."""

    output: Path
    """The mapping folder (mapping.safetensors + mapping.json)."""
    method: str
    """The method that made the mapping."""
    mapped: dict[str, Path] = field(default_factory=dict)
    """With `write_mapped`: side ("src", "tgt") -> its mapped vocabulary as a .vec file."""


def align_word_vector_files(
    src_path: str | os.PathLike[str],
    tgt_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: WordAlignConfig,
    *,
    write_mapped: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> WordAlignFilesReport:
    """Return what was written after mapping two word-vector files and saving the mapping in `output`.

    Only the `max_vocab` most frequent words of each file are read. With `write_mapped`, both vocabularies
    are also written through the mapping as `<output>/src.mapped.vec` and `tgt.mapped.vec`. `output` must
    be missing or empty, or with `overwrite` hold a word mapping (checked before any vectors are read);
    the folder is written whole and swapped in at the end, so no file of an earlier run stays beside it.
    """
    from xling.vectors import WordVectors, check_savable, load_vectors, save_vectors
    from xling.vectors.formats import EXACT_PRECISION

    config.validate()
    folder = Path(output)
    # the folder is replaced whole at the end: inputs in it would go
    inputs = [(f"the input {given}", given) for given in (src_path, tgt_path)]
    if config.dictionary:
        inputs.append((f"the seed dictionary {config.dictionary}", config.dictionary))
    check_apart(folder, inputs)
    kind = mapping_folder_kind(folder)
    check_replaceable(folder, overwrite, "word mapping", kind=kind)
    cap = config.max_vocab or None
    source, target = (load_vectors(path, max_words=cap, unicode_errors=config.unicode_errors)
                      for path in (src_path, tgt_path))  # fmt: skip
    if write_mapped:  # a word the .vec format cannot hold would fail only after the training
        for side, vectors in (("src", source), ("tgt", target)):
            check_savable(vectors, folder / f"{side}.mapped.vec")
    mapping = align_words(source, target, config, progress=progress)
    report = WordAlignFilesReport(folder, config.method)
    with atomic_folder(folder, overwrite=overwrite, what="word mapping", kind=kind) as staging:
        mapping.save(staging)
        if write_mapped:
            for side, vectors, mapped in (("src", source, mapping.map_source(source.vectors)),
                                          ("tgt", target, mapping.map_target(target.vectors))):  # fmt: skip
                name = f"{side}.mapped.vec"
                save_vectors(WordVectors(vectors.words, mapped, str(folder / name)), staging / name,
                             precision=EXACT_PRECISION)  # fmt: skip
                report.mapped[side] = folder / name
    return report


def mapping_folder_kind(folder: Path) -> str | None:
    """Return the xling.json kind that `folder` must record for overwrite to replace it: "word-mapping",
    or None (any content) for a mapping saved before mappings wrote an xling.json (mapping.json only)."""
    if (folder / META_FILE).is_file() and not (folder / METADATA_FILE).exists():
        return None
    return KIND
