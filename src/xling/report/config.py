"""`ReportConfig`: what `xling report` evaluates, where it writes, and the modest per-task defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from xling.config import check_int
from xling.data.languages import normalize_language
from xling.errors import ConfigError

__all__ = ["ReportConfig"]


@dataclass
class ReportConfig:
    """Settings of `xling report` (`[report]` in a recipe)."""

    model: str = "xling-mini"
    """The model: a folder or a shipped name (xling-mini, xling-mt-bible, xling-langid), or a word-mapping
    folder (mapping.json). Its kind (xling.json `kind`) decides which tasks apply."""
    output: str = ""
    """The report folder: report.json, report.html and tasks/<task>.json (one file per finished task)."""
    data: str = ""
    """Data root holding tatoeba/, ntrex/, bible/, sentiment/umsab/, ud/; "": $XLING_DATA, else ../shared/data."""
    tasks: list[str] = field(default_factory=list)
    """Tasks to run (names as `xling report --help` lists them); []: every task that applies to the kind."""
    languages: list[str] = field(default_factory=list)
    """Languages to score; []: each task's default (the model's training languages that the test set has,
    plus the task's yardstick languages); ["all"]: every language each test set has."""
    probe_languages: list[str] = field(
        default_factory=lambda: ["ara", "tur", "hin", "tha", "kat", "tam", "ita", "ind"]
    )
    """Added to the default languages of tatoeba and ntrex, so that the page shows how the model does on
    languages it may never have trained on (marked so); the adapt benchmark's languages and a few more."""
    baseline: str = ""
    """An earlier report.json (or its folder) to compare with: per-language differences, regressions marked."""
    regression: float = 1.0
    """A per-language drop of more than this many points (percent scale) against the baseline is a regression."""
    fail_under: list[str] = field(default_factory=list)
    """Guards `task:metric=value` or `task:metric@lang=value`: the command exits 1 when a figure is below
    (see xling.report.run.parse_guard)."""
    force: bool = False
    """Re-run tasks already in `output` for the same model and settings, and replace another model's report
    there (refused without it)."""
    batch_size: int = 256
    """Sentences per encoder batch."""
    tatoeba_scoring: str = "cosine"
    """Tatoeba: cosine, margin or margin-full (see xling.evaluation.tatoeba)."""
    mining_languages: list[str] = field(default_factory=lambda: ["deu", "fra", "rus", "cmn"])
    """Bible mining: languages mined against English (restricted by `languages` when that is given)."""
    mining_distractors: int = 1000
    """Bible mining: non-parallel verses per side (the full test, `xling eval mining`, uses up to 5000)."""
    mining_book: str = "JHN"
    """Bible mining: the held-out book whose verses are the true pairs."""
    transfer_source: str = "english"
    """Transfer: the UMSAB language whose train split trains the frozen head (dev: its val split)."""
    fewshot_ks: list[int] = field(default_factory=lambda: [0, 8, 32])
    """Few-shot transfer: labelled target examples per class added to the source training set."""
    fewshot_seeds: int = 2
    """Few-shot transfer: draws per k (each k > 0 trains one classifier per draw and language)."""
    mt_languages: list[str] = field(default_factory=lambda: ["eng", "deu", "fra", "spa"])
    """MT: every direction between these languages the model translates (the heat map's rows and columns)."""
    mt_max_sentences: int = 40
    """MT: sentences scored per direction (the first N; 0: all, which takes long on a CPU)."""
    mt_beam: int = 1
    """MT: beam size (1: greedy, the fast default of a report; `xling eval mt` uses the model's)."""
    langid_limit: int = 200
    """Language id: sentences per language and test set (the first N)."""
    bli_src: str = ""
    """BLI (word mappings): the source word vectors file."""
    bli_tgt: str = ""
    """BLI (word mappings): the target word vectors file."""
    bli_dictionary: str = ""
    """BLI (word mappings): the test dictionary, source<TAB>target per line."""
    bli_unicode_errors: str = "strict"
    """BLI (word mappings): a word of a vectors file that is not UTF-8: strict (an error), skip (its row
    dropped) or replace (U+FFFD for each bad byte), as `xling eval bli --unicode-errors`."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        if not self.model:
            raise ConfigError("model: name a model folder or a shipped model (xling-mini)")
        if not self.output:
            raise ConfigError("output: name the report folder (--output DIR)")
        for name in ("batch_size", "fewshot_seeds", "langid_limit", "mt_beam"):
            check_int(name, getattr(self, name), 1)
        from xling.evaluation.tatoeba import SCORINGS

        if self.tatoeba_scoring not in SCORINGS:  # else found only when the tatoeba task runs, after others
            raise ConfigError(
                f"tatoeba_scoring: {self.tatoeba_scoring!r} must be one of {', '.join(SCORINGS)}"
            )
        if self.languages != ["all"]:  # a code that names no language would match no test set, unsaid
            for code in self.languages:
                normalize_language(code, where="languages")
        for name in ("mining_distractors", "mt_max_sentences"):
            check_int(name, getattr(self, name), 0)
        if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in self.fewshot_ks):
            raise ConfigError(
                f"fewshot_ks: {self.fewshot_ks!r} must be counts of examples per class (0 or more)"
            )
        if not isinstance(self.regression, int | float) or self.regression < 0:
            raise ConfigError(f"regression: {self.regression!r} must be a number of points, 0 or more")
        from xling.report.run import parse_guard

        for guard in self.fail_under:
            parse_guard(guard)
        from xling.vectors.formats import check_unicode_errors

        check_unicode_errors(self.bli_unicode_errors)
