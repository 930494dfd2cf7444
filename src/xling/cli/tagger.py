"""`xling tagger train/eval` and `xling tag`: a word tagger (POS, NER) trained in one language, used in all."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from xling.artifacts import TAGGER_FAMILY
from xling.cli.common import (
    JsonOut,
    Recipe,
    Sets,
    check_json_apart,
    check_texts,
    console,
    literal,
    model_folder,
    show_training_progress,
    write_json,
)
from xling.config import load_config
from xling.data.root import check_not_test_set
from xling.errors import ConfigError

app = typer.Typer(
    help="Tag words (POS, NER) in any language with a tagger trained in one.", no_args_is_help=True
)

TaggerOpt = Annotated[Path, typer.Option("--model", help="Tagger folder (from `xling tagger train`).")]
FormatOpt = Annotated[
    str, typer.Option("--format", help="conllu (UPOS column of UD files) or conll2003 (word ... tag lines).")
]


def read_tagged(path: Path | str, data_format: str, language: str | None = None):
    """Return the TaggedSentences of a CoNLL-U or CoNLL-2003 file; a language code that is none is an error."""
    from xling.data.conllu import read_conll_ner, read_conllu
    from xling.data.languages import normalize_language

    if language is not None:
        normalize_language(language, where=f"the language of {path}")  # checked; kept as the user wrote it
    if data_format == "conllu":
        return read_conllu(path, language=language)
    if data_format == "conll2003":
        return read_conll_ner(path, language=language)
    raise ConfigError(f"--format {data_format!r}: conllu or conll2003")


@app.command("train")
def train(
    train_file: Annotated[
        Path, typer.Option("--train", help="Training sentences (.conllu[.gz] or CoNLL-2003).")
    ],
    output: Annotated[Path, typer.Option("--output", help="Folder to write the tagger to.")],
    dev: Annotated[
        Path | None, typer.Option("--dev", help="Source-language dev sentences, for model selection only.")
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="The training data's language.")] = None,
    data_format: FormatOpt = "conllu",
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="Encoder folder or shipped name (default xling-mini).")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="frozen (word vectors + logistic regression) or finetune.")
    ] = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite/--no-overwrite", help="Replace a tagger already at --output.")
    ] = None,
    resume: Annotated[
        bool | None,
        typer.Option("--resume/--no-resume", help="finetune: continue from --output's newest checkpoint."),
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a word tagger on one language's tagged sentences; model selection on its dev set only."""
    from xling.atomic import check_apart, check_replaceable
    from xling.training.distributed import is_main_process
    from xling.training.loop import unfinished_run
    from xling.transfer.tagging import TaggerConfig, train_tagger

    config = load_config(TaggerConfig, recipe, set_ or [], section="tagger", encoder=encoder, method=method,
                         output=str(output), overwrite=overwrite, resume=resume)  # fmt: skip
    check_json_apart(json_path, (f"the output folder {output}", output),
                     (f"the encoder folder {config.encoder}", model_folder(config.encoder)))  # fmt: skip
    if config.method == "finetune":
        show_training_progress(config.training)
    # a data file inside the output would go with it when --overwrite replaces it
    given = [("--train", train_file), ("--dev", dev)]
    check_apart(output, [(f"the {option} file {path}", path) for option, path in given if path is not None])
    # refuse before training, not after (a fine-tuning run resumes into its own checkpoints, which the loop
    # refuses without --resume or --overwrite; a run killed before its first checkpoint left only the loop's
    # entries, train_log.jsonl or a best/: --overwrite starts it anew, --resume too, having nothing to
    # resume; without either it is refused, as it may be another command's)
    folder = Path(output)
    run_folder = config.method == "finetune" and (
        (folder / "checkpoints").is_dir() or ((config.overwrite or config.resume) and unfinished_run(folder))
    )
    # under torchrun only the main process reads the folder: it may clear a frozen tagger there before
    # training (transfer.tagging), which the others must not read half deleted
    if is_main_process() and not run_folder:
        # a fine-tuned one is saved into the folder
        check_replaceable(
            output, config.overwrite, "tagger", kind=TAGGER_FAMILY, renamed=config.method != "finetune"
        )
    for option, path in given:  # dev picks the model: a test split there is chosen on, as bad as trained on
        if path is not None:
            check_not_test_set(path, option)
    train_data = read_tagged(train_file, data_format, language)
    dev_data = read_tagged(dev, data_format, language) if dev is not None else None
    text = f"training a {config.method} tagger on {len(train_data.words):,} sentences"
    # fine-tuning draws its own progress bar (training.progress): a spinner and it overwrote each other
    drawn = config.method == "finetune" and config.training.progress
    with nullcontext() if drawn else console.status(text):
        tagger = train_tagger(config, train_data, dev_data)
    if not is_main_process():  # under torchrun the main process (rank 0) saved it, and says so
        return
    metadata = dict(getattr(tagger, "meta", None) or {})
    console.print(f"[green]{config.method} tagger ({len(tagger.labels)} tags) saved to {literal(output)}[/]")
    write_json(json_path, {"output": str(output), "labels": list(tagger.labels), **metadata})


@app.command("eval")
def evaluate(
    model: TaggerOpt,
    test: Annotated[
        list[str], typer.Option("--test", help="LANG=FILE: a tagged test set in --format (repeatable).")
    ],
    data_format: FormatOpt = "conllu",
    source: Annotated[
        str | None, typer.Option("--source", help="The tagger's training language (left out of the average).")
    ] = None,
    json_path: JsonOut = None,
) -> None:
    """Zero-shot tagging accuracy per language, the majority-tag baseline and the encoder's coverage."""
    from xling.transfer.tagging import evaluate_tagger, load_tagger, render_tagging

    check_json_apart(json_path, (f"the model folder {model}", model_folder(model)))
    test_sets = {}
    for item in test:
        lang, sep, file = item.partition("=")
        if not sep or not lang.strip() or not file.strip():
            raise ConfigError(f"--test {item!r}: expected LANG=FILE, e.g. --test de=de_gsd-ud-test.conllu")
        if lang.strip() in test_sets:
            raise ConfigError(
                f"--test {item!r}: {lang.strip()} has a test set already; give one per language"
            )
        test_sets[lang.strip()] = read_tagged(file.strip(), data_format, lang.strip())
    with console.status(f"loading {literal(model)}"):
        tagger = load_tagger(model)
    with console.status("tagging"):
        result = evaluate_tagger(tagger, test_sets, model=str(model), source_language=source)
    # first: a table that fails to print (a closed pipe) loses nothing
    write_json(json_path, result.to_dict())
    typer.echo(render_tagging(result))


def tag(
    sentences: Annotated[
        list[str], typer.Argument(help="Sentences in any language (words split at spaces).")
    ],
    model: TaggerOpt,
    json_path: JsonOut = None,
) -> None:
    """Tag the words of sentences in any language: word/TAG for each word."""
    from xling.transfer.tagging import load_tagger

    check_json_apart(json_path, (f"the model folder {model}", model_folder(model)))
    check_texts(sentences, "SENTENCE")
    words = [sentence.split() for sentence in sentences]
    if any(not w for w in words):
        raise ConfigError("a sentence to tag is empty")
    with console.status(f"loading {literal(model)}"):
        tagger = load_tagger(model)
    tags = tagger.predict(words)
    out = Console(soft_wrap=True)
    for sentence_words, sentence_tags in zip(words, tags, strict=True):
        out.print(
            " ".join(
                f"{escape(w)}/[bold]{escape(t)}[/]"
                for w, t in zip(sentence_words, sentence_tags, strict=True)
            )
        )
    write_json(json_path, {"model": str(model), "sentences": [
        {"words": w, "tags": t} for w, t in zip(words, tags, strict=True)]})  # fmt: skip
