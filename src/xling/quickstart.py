"""`xling quickstart`: the main job. Train a vocabulary and a small model, then show what it learned."""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xling.artifacts import MASKED_LM_KIND, TOKENIZER_KIND, read_metadata, update_metadata
from xling.atomic import shown_names
from xling.data.config import CorpusConfig
from xling.data.root import bible_folder, data_root
from xling.data.sources import TextSources, resolve_corpus
from xling.errors import ConfigError, XlingError
from xling.pretraining.inspect import load_masked_lm, mask_one_word, predict_ids
from xling.pretraining.presets import model_config
from xling.pretraining.pretrain import PretrainConfig, pretrain
from xling.tokenization.vocabulary import VocabConfig, train_vocabulary
from xling.training import TrainingConfig
from xling.training.loop import entries_besides_the_run

# with --data: a spread of scripts and families from ../shared/data/bible
BIBLE_LANGUAGES = ["eng", "deu", "fra", "spa", "rus", "cmn", "jpn", "fin", "nld", "heb", "ell", "kor"]


# one query per script; each looks for sentences in the other languages only
SEARCH_QUERIES = ["Wann öffnet der Laden morgen?", "Я хочу вернуть эти брюки.", "我的包裹还没有到。"]
# step 5: English words translated into German (the first list for the sample, the second for the Bible)
SAMPLE_WORDS = ["money", "shop", "package", "tomorrow", "friend", "water", "price", "train"]
BIBLE_WORDS = ["water", "king", "house", "bread", "earth", "fire", "mother", "night"]
# step 7: English sentences for the default translation model (trained on the Bible: the first two are in
# its domain, the last is everyday text, which it has never seen)
TRANSLATION_SENTENCES = [
    "In the beginning was the Word, and the Word was with God.",
    "And he said unto them, Go ye into all the world.",
    "The train leaves at eight o'clock tomorrow morning.",
]
TRANSLATION_TARGETS = ["deu", "fra", "spa"]


def _quickstart_training() -> TrainingConfig:
    """Return the quickstart's training defaults: 2,400 steps of 32 at a high rate, in at most 3.5 minutes."""
    return TrainingConfig(
        max_steps=2400, batch_size=32, lr=2e-3, warmup_steps=60, max_minutes=3.5, checkpoint_every=400,
        log_every=20, seed=0, progress=True,
    )  # fmt: skip


@dataclass
class QuickstartConfig:
    """Settings of `xling quickstart` (defaults fit the bundled sample in about 5 minutes on 2 cores)."""

    data: str | None = None
    """A folder with the real corpora (`bible/` inside, e.g. ../shared/data); None: the bundled sample."""

    output: str = "runs/quickstart"
    """The run folder: tokenizer/, model/, the search index and word vectors."""

    languages: list[str] = field(default_factory=list)
    """Languages to train on; empty: all nine of the sample, or twelve Bible languages with `data`."""

    model: str = "mini"
    """The encoder preset (xling.pretraining.presets)."""

    vocab_size: int = 0
    """Vocabulary pieces; 0: 2,000 for the sample, 8,000 for the Bible."""

    vocab_sample_sentences: int = 200_000
    """Sentences drawn for SentencePiece (VocabConfig.sample_sentences); fewer make step 1 quicker."""

    tlm_ratio: float = 0.7
    """Share of TLM steps: they pull translations together (0.7 measured better than 0.5 for retrieval)."""

    max_length: int = 64
    """Tokens per training stream: the sample's sentences are short, so 64 gives more steps per minute."""

    heldout_fraction: float = 0.12
    """Share of the sample's sentence ids held out for the retrieval figures (the Bible holds out John)."""

    training: TrainingConfig = field(default_factory=_quickstart_training)
    """The pretraining loop (`--minutes` sets `training.max_minutes`; `training.seed` also seeds the vocabulary)."""

    search_model: str = "xling-mini"
    """Step 4: the sentence encoder of the cross-language search over the sample ("" skips it)."""

    search_queries: list[str] = field(default_factory=lambda: list(SEARCH_QUERIES))
    """Step 4: the queries; each looks for sentences in the other languages only."""

    words: list[str] = field(default_factory=list)
    """Step 5: English words to translate into German; empty: the defaults for the corpus in use."""

    sentiment_encoder: str = "xling-mini"
    """Step 6: the frozen sentence encoder under the review-sentiment classifier trained on the English
    sample reviews and used on the other sample languages ("" skips it)."""

    translation_model: str = "xling-mt-bible"
    """Step 7: the translation model that translates English sentences and the sample's English side into
    German, French and Spanish, scored with chrF++ against the sample's references ("" skips it)."""

    translation_sentences: int = 60
    """Step 7: sample sentences per language that chrF++ is measured on."""

    detector: str = "xling-langid"
    """Step 8: the language identifier that labels the bundled sample's sentences ("" skips it)."""

    def validate(self) -> None:
        """Return nothing; ConfigError naming the field out of range, before step 1 writes anything."""
        from xling.config import check_int

        check_int("vocab_size", self.vocab_size, 0)
        check_int("vocab_sample_sentences", self.vocab_sample_sentences, 1)
        check_int("max_length", self.max_length, 8)
        check_int("translation_sentences", self.translation_sentences, 1)  # chrF++ of nothing broke sacrebleu
        if not 0 <= self.tlm_ratio <= 1:
            raise ConfigError(f"tlm_ratio: {self.tlm_ratio} must be in [0, 1]")
        if not 0 < self.heldout_fraction < 1:
            raise ConfigError(f"heldout_fraction: {self.heldout_fraction} must be between 0 and 1")
        self.training.validate()


def _corpus_options(config: QuickstartConfig) -> dict[str, Any]:
    if config.data is None:
        return {"data": CorpusConfig(corpus="sample", languages=config.languages,
                                     heldout_fraction=config.heldout_fraction),
                "vocab_size": config.vocab_size or 2000, "max_sentences": 0}  # fmt: skip
    bible = bible_folder(config.data)
    return {"data": CorpusConfig(corpus=str(bible), languages=config.languages or BIBLE_LANGUAGES,
                                 heldout_prefixes=["JHN."]),
            "vocab_size": config.vocab_size or 8000, "max_sentences": 6000}  # fmt: skip


DEMO_STAMP = "xling quickstart"
"""`made_by` in the xling.json of the demo's model and tokenizer: what the next demo may replace."""
PRETRAINED_FILES = frozenset({"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                              "special_tokens_map.json", "sentencepiece.bpe.model", "xling.json"})  # fmt: skip
"""What `xling pretrain` writes into its model folder besides the run's own entries."""
TOKENIZER_FILES = frozenset({"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                             "sentencepiece.bpe.model", "xling.json"})  # fmt: skip
"""What `xling tokenizer train` (the demo's step 1) writes into its tokenizer folder."""


def check_demo_model_folder(folder: Path) -> None:
    """Return nothing when `folder` may be replaced by the demo's model: missing, a pretraining run that left
    only its own entries, or the demo's earlier model (`_check_demo_folder`); else XlingError naming it."""
    _check_demo_folder(folder, "model", MASKED_LM_KIND, PRETRAINED_FILES, entries_besides_the_run)


def check_demo_tokenizer_folder(folder: Path) -> None:
    """Return nothing when `folder` may be replaced by the demo's tokenizer: missing, empty, or the demo's
    earlier tokenizer (`_check_demo_folder`); else XlingError naming it."""
    _check_demo_folder(folder, "tokenizer", TOKENIZER_KIND, TOKENIZER_FILES,
                       lambda path: sorted(entry.name for entry in path.iterdir()))  # fmt: skip


def _check_demo_folder(folder: Path, what: str, kind: str, written: frozenset[str],
                       entries: Callable[[Path], list[str]]) -> None:  # fmt: skip
    """Return nothing when `folder` holds no entries (`entries` lists those that count) or the demo's earlier
    `what`: of `kind`, its xling.json stamped DEMO_STAMP, and no file but the `written` ones; else XlingError
    naming it, and the files the demo did not write.

    Checked before the first step, so that someone else's files stop the demo before anything is trained,
    and are never deleted: the demo replaces these folders whole. A pretrained model or a tokenizer it did
    not stamp was replaced (a recipe's `runs/bible-small/tokenizer`, which its model was trained with), and
    a stamped model with a user's notes beside it was deleted with them. Demos made before the stamps (before
    2026-12-07 for models, 2026-12-08 for tokenizers) are refused too: their folders are removed by hand.
    """
    if not folder.exists():
        return
    if not folder.is_dir():
        raise XlingError(f"{folder}: a file is there, where the quickstart writes its {what}; choose another "
                         "--output")  # fmt: skip
    others = entries(folder)
    if not others:
        return
    metadata = read_metadata(folder)
    foreign = sorted(set(others) - written)
    if metadata.get("kind") == kind and metadata.get("made_by") == DEMO_STAMP:
        if not foreign:
            return
        raise XlingError(f"{folder}: the quickstart's earlier {what} is there with files it did not write "
                         f"({shown_names(foreign)}); the quickstart would delete them with it: move them away "
                         "or choose another --output")  # fmt: skip
    made = f"a {what} the quickstart did not make" if metadata.get("kind") == kind else "files"
    raise XlingError(f"{folder}: the folder holds {made} ({shown_names(sorted(others))}); the quickstart would "
                     "replace it: choose another --output (or remove it, if an earlier quickstart made it "
                     "before it marked what it makes)")  # fmt: skip


class _NoResumeAdvice(logging.Filter):
    """Drops the training loop's "stopped after N minutes ... run again with --resume" warning: the demo's
    pretraining stops at its time budget by design, and `xling quickstart` has no --resume."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for the time-limit warning, True for any other record."""
        return "training.max_minutes" not in record.getMessage()


@contextmanager
def _without_resume_advice() -> Iterator[None]:
    """Return a context in which the training loop does not advise --resume at its time limit."""
    loop_logger = logging.getLogger("xling.training.loop")
    advice = _NoResumeAdvice()
    loop_logger.addFilter(advice)
    try:
        yield
    finally:
        loop_logger.removeFilter(advice)


def run_quickstart(config: QuickstartConfig, console: Console | None = None) -> dict[str, Any]:
    """Return the quickstart report after training, printing masked-piece guesses and retrieval accuracy."""
    console = console or Console()
    config.validate()
    opts = _corpus_options(config)
    output = Path(config.output)
    started = time.perf_counter()
    data: CorpusConfig = opts["data"]
    corpus = resolve_corpus(data.corpus)
    console.rule("[bold]xling quickstart")
    console.print(f"corpus: {escape(str(corpus))}")

    sources = TextSources.from_config(data)
    console.print(f"languages: {', '.join(sources.languages)}")
    # the demo replaces its own previous demo run (other runs refuse to overwrite)
    model_folder = output / "model"
    check_demo_model_folder(model_folder)
    check_demo_tokenizer_folder(output / "tokenizer")
    model_config(config.model, vocab_size=opts["vocab_size"])  # a wrong model name stops the demo here
    vocab = VocabConfig(output=str(output / "tokenizer"), data=data, vocab_size=opts["vocab_size"],
                        seed=config.training.seed, sample_sentences=config.vocab_sample_sentences,
                        overwrite=True)  # fmt: skip
    with console.status(f"1/8 training a shared {vocab.vocab_size}-piece vocabulary"):
        report = train_vocabulary(sources.text_factories(), vocab)
    update_metadata(report.output, made_by=DEMO_STAMP)  # the next demo may replace it, and only it
    console.print(f"1/8 vocabulary: {report.vocab_size} pieces, sampling alpha {vocab.alpha} "
                  f"(sentences drawn per language: {report.sampled})")  # fmt: skip

    minutes = config.training.max_minutes
    console.print(f"2/8 pretraining a '{config.model}' encoder with MLM + TLM (at most {minutes} min)")
    pretrain_config = PretrainConfig(
        output=str(model_folder),
        tokenizer=str(report.output),
        data=replace(data, languages=sources.languages),
        max_sentences_per_language=opts["max_sentences"],
        model=config.model,
        max_length=config.max_length,
        tlm_ratio=config.tlm_ratio,
        eval_max_sentences=300,
        training=config.training,
    )  # fmt: skip
    # pretrain refuses to write over a model or checkpoints: the demo's own earlier model goes first
    shutil.rmtree(model_folder, ignore_errors=True)
    with _without_resume_advice():
        result = pretrain(pretrain_config)
    update_metadata(model_folder, made_by=DEMO_STAMP)  # the next demo may replace it, and only it
    budget = (
        " (the time budget ended it, as planned; --minutes gives it more)"
        if result.train.stopped_for_time
        else ""
    )
    console.print(f"    {result.train.steps} steps, final loss {result.train.final_loss:.3f}, "
                  f"{result.train.tokens_per_s:,.0f} tokens/s{budget}")  # fmt: skip

    console.print("3/8 what it learned, on held-out sentences it never saw")
    guesses = _show_masked_words(result, pretrain_config, console)
    retrieval = _show_retrieval(result.evaluation, console)
    search = _show_search(config, output, console)
    words = _show_word_translation(config, output, console)
    sentiment = _show_sentiment_transfer(config, console)
    translation = _show_translation(config, console)
    detection = _show_detection(config, console)
    seconds = time.perf_counter() - started
    console.print(f"done in {seconds / 60:.1f} min; model folder: {escape(str(result.output))} (loads with "
                  "transformers.AutoModelForMaskedLM)")  # fmt: skip
    return {
        "model": str(result.output),
        "train": result.train.to_dict(),
        "evaluation": result.evaluation,
        "masked_words": guesses,
        "retrieval": retrieval,
        "search": search,
        "word_translation": words,
        "sentiment": sentiment,
        "translation": translation,
        "detection": detection,
        "seconds": round(seconds, 1),
    }


def _show_masked_words(result, config: PretrainConfig, console: Console) -> list[dict[str, Any]]:
    model, tokenizer = load_masked_lm(result.output)
    sources = TextSources.from_config(config.data)
    corpus = sources.aligned()
    table = Table(title="masked-piece predictions (top 5)")
    for column in ("lang", "sentence", "hidden piece", "model's guesses"):
        table.add_column(column, overflow="fold")
    rows = []
    for lang in corpus.languages if corpus else []:
        heldout = [text for sid, text in corpus.sentences(lang) if sid in sources.heldout]
        for text in heldout[:40]:
            masked = mask_one_word(tokenizer, text)
            if masked is None or len(text) > 90:
                continue
            ids, shown, truth = masked
            guesses = predict_ids(model, tokenizer, ids)[0]
            hit = truth in guesses
            table.add_row(lang, shown, truth, ("[green]" if hit else "") + ", ".join(guesses))
            rows.append({"lang": lang, "sentence": shown, "truth": truth, "guesses": guesses, "hit": hit})
            break
    console.print(table)
    return rows


def _show_retrieval(evaluation: dict[str, Any], console: Console) -> dict[str, Any]:
    retrieval = evaluation.get("retrieval", {})
    pivot = evaluation.get("pivot", "eng")
    table = Table(title=f"translation retrieval of held-out sentences vs {pivot} (mean-pooled encoder)")
    for column in ("lang", f"xx->{pivot}", f"{pivot}->xx", "candidates", "chance"):
        table.add_column(column, justify="right")
    for lang, row in retrieval.items():
        table.add_row(lang, f"{row[f'{lang}2{pivot}']:.1f}%", f"{row[f'{pivot}2{lang}']:.1f}%", str(row["n"]),
                      f"{row['chance']:.1f}%")  # fmt: skip
    console.print(table)
    if evaluation.get("retrieval_average") is not None:
        console.print(f"average retrieval accuracy: {evaluation['retrieval_average']:.1f}%")
    return retrieval


def _show_search(config: QuickstartConfig, output: Path, console: Console) -> dict[str, Any]:
    """Return what step 4 found: each query's best hits in other languages, and sample retrieval accuracy."""
    import numpy as np

    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir
    from xling.embeddings.encoder import Encoder
    from xling.evaluation.translation_accuracy import retrieval_accuracy
    from xling.retrieval.index import SearchIndex

    if not config.search_model:
        return {}
    try:
        encoder = Encoder.load(config.search_model)
    except XlingError as error:  # e.g. no shipped model in this checkout: the demo goes on without step 4
        console.print(
            f"4/8 cross-language search skipped: cannot load {escape(str(config.search_model))} ({escape(str(error))})"
        )
        return {}
    console.print(
        f"4/8 cross-language search with the sentence encoder {encoder.name} over the bundled sample"
    )
    corpus = AlignedCorpus.from_dir(sample_corpus_dir())
    texts, languages, keys = [], [], []
    for lang in corpus.languages:
        for ident, text in corpus.sentences(lang):
            texts.append(text)
            languages.append(lang)
            keys.append(f"{lang}:{ident}")  # one document per corpus line, as before
    vectors = encoder.encode(texts, batch_size=256)
    with SearchIndex.create(
        output / "search-index", encoder.name, encoder.dimension, overwrite=True
    ) as index:
        index.add(texts, vectors, languages, keys=keys)
        found = []
        for query in config.search_queries:
            query_vector = encoder.encode([query])
            own = languages[
                int(np.argmax(vectors @ query_vector[0]))
            ]  # the query's language, by its neighbour
            others = [x for x in corpus.languages if x != own]
            hits = index.search(query_vector, k=4, languages=others)[0]
            table = Table(title=escape(f"query: {query}"))
            for column in ("score", "lang", "document"):
                table.add_column(column, justify="right" if column == "score" else "left")
            for hit in hits:
                table.add_row(f"{hit.score:.3f}", hit.language, escape(hit.text))
            console.print(table)
            found.append({"query": query, "hits": [{"language": h.language, "text": h.text, "score": h.score}
                                                   for h in hits]})  # fmt: skip
    accuracy = {}
    by_lang = {lang: dict(corpus.sentences(lang)) for lang in corpus.languages}
    for lang in corpus.languages:
        if lang == "eng":
            continue
        ids = [i for i in by_lang[lang] if i in by_lang["eng"]]
        score = retrieval_accuracy(encoder.encode([by_lang[lang][i] for i in ids], batch_size=256),
                                   encoder.encode([by_lang["eng"][i] for i in ids], batch_size=256))  # fmt: skip
        accuracy[lang] = round(100 * score.average, 1)
    console.print(f"    {encoder.name} finds the English translation of a sample sentence among all "
                  f"{len(by_lang['eng'])}: " + ", ".join(f"{k} {v:.0f}%" for k, v in accuracy.items()))  # fmt: skip
    return {"model": encoder.name, "queries": found, "sample_retrieval": accuracy}


def _show_word_translation(config: QuickstartConfig, output: Path, console: Console) -> dict[str, Any]:
    """Return step 5's figures: English words translated into German by CSLS in a shared word space.

    With --data: word2vec vectors trained on the English and German Bibles, mapped by Procrustes seeded
    with the strings both vocabularies share (names, numbers) and refined as MUSE does; scored by BLI on
    the xling-eval en-de test dictionary. On the bundled sample (far too small to train word vectors) the
    words are embedded by the shipped xling-mini, whose space is already shared: no mapping is learned
    (73 shared strings could not fit a 256-d map).
    """
    from xling.alignment.words.align import WordAlignConfig, align_words
    from xling.alignment.words.translate import WordTranslateConfig, translate_words

    try:
        src, tgt, source = _word_vectors(config, output)
    except XlingError as error:
        console.print(f"5/8 word translation skipped: {escape(str(error))}")
        return {}
    mapping = None
    if config.data:
        console.print(
            f"5/8 word translation eng -> deu: {escape(str(source))}, mapped by identical strings + Procrustes"
        )
        mapping = align_words(src, tgt, WordAlignConfig(method="identical", refinements=3, criterion=False),
                              progress=False)  # fmt: skip
    else:
        console.print(f"5/8 word translation eng -> deu: {escape(str(source))}")
    words = config.words or (BIBLE_WORDS if config.data else SAMPLE_WORDS)
    found = translate_words(words, src, tgt, mapping, WordTranslateConfig(top=3, unknown="skip"))
    table = Table(title="English -> German (CSLS, top 3)")
    table.add_column("eng")
    table.add_column("deu")
    translations = {}
    for word, hits in found.items():
        translations[word] = [target for target, _ in hits]
        table.add_row(word, ", ".join(translations[word]))
    console.print(table)
    report: dict[str, Any] = {"source": source, "translations": translations}
    test = data_root(config.data).path / "bli_xling_eval" / "en-de" / "yacle.test.freq.2k.en-de.tsv"
    if mapping is not None and test.is_file():
        from xling.evaluation.bli import BLIConfig, evaluate_bli

        bli = evaluate_bli(src, tgt, mapping, BLIConfig(dictionary=str(test), pair="en-de")).scores["en-de"]
        console.print(f"    BLI en-de (xling-eval test, CSLS): P@1 {bli['p@1']:.1f}, P@10 {bli['p@10']:.1f} "
                      f"over the {bli['coverage']['pairs_covered']} of {bli['coverage']['lines']} pairs "
                      "whose words are in the Bible vocabularies")  # fmt: skip
        report["bli"] = {k: bli[k] for k in ("p@1", "p@5", "p@10", "coverage")}
    return report


def _word_vectors(config: QuickstartConfig, output: Path):
    """Return (English, German) word vectors for step 5 and a line saying where they come from."""
    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir
    from xling.embeddings.encoder import Encoder
    from xling.vectors import VectorsTrainConfig, WordVectors, tokenize_words, train_vectors

    if config.data:
        bible = bible_folder(config.data)
        vectors = [
            # word2vec, not fastText: on a Bible-sized corpus character n-grams swamp the meaning
            train_vectors(VectorsTrainConfig(corpus=str(bible), language=lang, model="word2vec", dim=100,
                                             epochs=10, output=str(output / "vectors" / f"{lang}.npy"),
                                             overwrite=True),  # the quickstart's own file from a run before
                          progress=False)
            for lang in ("eng", "deu")
        ]  # fmt: skip
        return vectors[0], vectors[1], "word2vec vectors trained on the eng and deu Bibles (dim 100)"
    encoder = Encoder.load(config.search_model or "xling-mini")
    corpus = AlignedCorpus.from_dir(sample_corpus_dir())
    vectors = []
    for lang in ("eng", "deu"):
        counts = Counter(word for _, text in corpus.sentences(lang) for word in tokenize_words(text))
        words = sorted(counts, key=lambda w: (-counts[w], w))  # most frequent first, as .vec files
        vectors.append(WordVectors(words, encoder.encode(words, batch_size=512), f"sample {lang}"))
    return vectors[0], vectors[1], f"the bundled sample's words embedded by {encoder.name}"


def _read_sample_reviews(path: Path):
    """Return the bundled sample's reviews of one language (`label<TAB>text` lines) as LabelledTexts."""
    from xling.data.labelled import LabelledTexts
    from xling.errors import DataError

    texts, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab or not label.strip() or not text.strip():
            raise DataError("expected label<TAB>text", path, number)
        texts.append(text.strip())
        labels.append(label.strip())
    return LabelledTexts(texts, labels, str(path), path.stem, (path,))


def _show_sentiment_transfer(config: QuickstartConfig, console: Console) -> dict[str, Any]:
    """Return step 6's figures: a review-sentiment classifier trained on the English sample reviews only
    (the frozen sentence encoder + logistic regression) labels the reviews of the other sample languages;
    each language's macro-F1 and accuracy are shown next to the majority-class baseline."""
    from xling.data.sources import sample_sentiment_dir
    from xling.transfer.classifier import adapt_languages, train_classifier
    from xling.transfer.config import ClassifierConfig
    from xling.transfer.evaluate import evaluate_transfer

    if not config.sentiment_encoder:
        return {}
    folder = sample_sentiment_dir()
    reviews = {path.stem: _read_sample_reviews(path) for path in sorted(folder.glob("*.tsv"))}
    english = reviews.pop("eng", None)
    if english is None or not reviews:
        console.print(
            f"6/8 sentiment transfer skipped: no eng.tsv and other languages in {escape(str(folder))}"
        )
        return {}
    try:
        classifier = train_classifier(ClassifierConfig(encoder=config.sentiment_encoder), english)
    except XlingError as error:  # e.g. no shipped model in this checkout: the demo goes on without step 6
        console.print(f"6/8 sentiment transfer skipped: {escape(str(error))}")
        return {}
    console.print(f"6/8 sentiment transfer: a classifier trained on the {len(english)} English sample reviews "
                  f"only ({config.sentiment_encoder} frozen, per-language standardised, + logistic regression) labels "
                  "the other languages")  # fmt: skip
    # each language's vectors are standardised with its own statistics, from its reviews' texts (no labels)
    adapt_languages(classifier, {lang: data.texts for lang, data in reviews.items()})
    result = evaluate_transfer(classifier, reviews, source_lang="eng", majority_labels=english.labels,
                               model=config.sentiment_encoder, data=str(folder))  # fmt: skip
    table = Table(title="reviews labelled by a classifier that saw English only (macro-F1 / accuracy, %)")
    for column in ("lang", "reviews", "macro-F1", "accuracy", "majority-class F1", "majority accuracy"):
        table.add_column(column, justify="left" if column == "lang" else "right")
    for lang, row in result.scores.items():
        seen = "" if row["covered"] is not False else " (unseen by the encoder)"
        table.add_row(lang + seen, str(row["n"]), f"{row['macro_f1']:.1f}", f"{row['accuracy']:.1f}",
                      f"{row['majority_f1']:.1f}", f"{row['majority_accuracy']:.1f}")  # fmt: skip
    console.print(table)
    examples = []
    for lang, data in reviews.items():
        label = classifier.for_language(lang).predict([data.texts[0]])[0]
        examples.append({"lang": lang, "text": data.texts[0], "predicted": label, "gold": data.labels[0]})
        console.print(f"    {lang}: {escape(data.texts[0][:70])} -> {label} (gold: {data.labels[0]})")
    console.print(f"    average macro-F1 {result.average:.1f} vs {result.settings['majority_average']:.1f} "
                  f"for always answering '{result.settings['majority_label']}'")  # fmt: skip
    return {"result": result.to_dict(), "examples": examples}


def _show_translation(config: QuickstartConfig, console: Console) -> dict[str, Any]:
    """Return step 7's figures: English sentences translated by the default translation model, and its
    chrF++ on the bundled sample's English -> German, French and Spanish pairs (everyday text: out of the
    Bible model's domain, so this is a hard test of it)."""
    from sacrebleu.metrics import CHRF

    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir
    from xling.translation.translator import Translator

    if not config.translation_model:
        return {}
    try:
        translator = Translator.from_pretrained(config.translation_model)
    except XlingError as error:  # e.g. no shipped model in this checkout: the demo ends without step 7
        console.print(f"7/8 translation skipped: {escape(str(error))}")
        return {}
    targets = [lang for lang in TRANSLATION_TARGETS if _translates_into(translator, lang)]
    console.print(f"7/8 translation: {config.translation_model} ({translator.backend_name} backend), English "
                  f"into {', '.join(targets)}")  # fmt: skip
    texts = [s for s in TRANSLATION_SENTENCES for _ in targets]
    # the model's own decoding settings (its generation_config.json), as `xling translate` decodes
    outputs = translator.translate(texts, "eng", targets * len(TRANSLATION_SENTENCES))
    table = Table(title="English sentences translated directly into each language")
    table.add_column("English")
    for lang in targets:
        table.add_column(lang)
    for i, sentence in enumerate(TRANSLATION_SENTENCES):
        table.add_row(sentence, *outputs[i * len(targets) : (i + 1) * len(targets)])
    console.print(table)
    corpus = AlignedCorpus.from_dir(sample_corpus_dir())
    chrf = CHRF(word_order=2)
    scores: dict[str, float] = {}
    for lang in targets:
        rows = list(corpus.pairs("eng", lang))[: config.translation_sentences]
        hypotheses = translator.translate([r[1] for r in rows], "eng", lang)
        scores[lang] = round(chrf.corpus_score(hypotheses, [[r[2] for r in rows]]).score, 1)
    console.print(f"    chrF++ on {config.translation_sentences} everyday sample sentences (not the Bible's domain): "
                  + ", ".join(f"eng->{lang} {score}" for lang, score in scores.items()))  # fmt: skip
    return {"model": config.translation_model, "backend": translator.backend_name,
            "examples": dict(zip(texts, outputs, strict=True)), "sample_chrf": scores}  # fmt: skip


def _show_detection(config: QuickstartConfig, console: Console) -> dict[str, Any]:
    """Return step 8's figures: the language identifier on every sentence of the bundled sample (which the
    shipped detector was not trained on), a few shown, and one mixed-language text cut into spans."""
    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir
    from xling.langid import label_matches, language_spans, load_identifier

    if not config.detector:
        return {}
    try:
        identifier = load_identifier(config.detector)
    except XlingError as error:  # e.g. no shipped detector in this checkout: the demo ends without step 8
        console.print(f"8/8 language identification skipped: {escape(str(error))}")
        return {}
    corpus = AlignedCorpus.from_dir(sample_corpus_dir())
    texts = {lang: [text for _, text in corpus.sentences(lang)] for lang in corpus.languages}
    console.print(f"8/8 language identification: {config.detector} ({len(identifier.labels)} labels) on the "
                  f"bundled sample's sentences")  # fmt: skip
    table = Table(title="one sample sentence per language, as detected")
    for column in ("sentence", "detected", "probability", "file"):
        table.add_column(column)
    accuracy: dict[str, float] = {}
    for lang, sentences in texts.items():
        predictions = [top[0] for top in identifier.predict(sentences)]
        accuracy[lang] = round(sum(label_matches(p.label, lang) for p in predictions) / len(predictions), 3)
        table.add_row(sentences[0], predictions[0].label, f"{predictions[0].probability:.2f}", lang)
    console.print(table)
    console.print("    accuracy per sample language: " + ", ".join(f"{lang} {value:.0%}" for lang, value
                                                                  in accuracy.items()))  # fmt: skip
    mixed = f"{texts['eng'][1]} {texts['deu'][2]}"
    spans = language_spans(identifier, mixed)
    console.print(
        "    mixed text in spans: " + "  ".join(escape(f"[{span.label}] {span.text}") for span in spans)
    )
    return {"model": config.detector, "accuracy": accuracy, "spans": [span.to_dict() for span in spans]}


def _translates_into(translator, lang: str) -> bool:
    """Return whether the translator's model has `lang` as a target language."""
    try:
        translator.conventions.target_token(lang)
    except XlingError:
        return False
    return True
