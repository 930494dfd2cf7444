"""`xling transfer train/predict/eval` and `xling classify`: a classifier trained in one language, used in all."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from xling.artifacts import CLASSIFIER_FAMILY
from xling.cli.common import (
    JsonOut,
    Recipe,
    Sets,
    TextInput,
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
from xling.errors import ConfigError, DataError

app = typer.Typer(help="Train a classifier in one language, use it in all.", no_args_is_help=True)

ClassifierOpt = Annotated[
    Path, typer.Option("--model", help="Classifier folder (from `xling transfer train`).")
]


LanguageOpt = Annotated[
    str | None,
    typer.Option(
        "--language",
        help="The texts' language: a standardising classifier reads them with that language's statistics "
        "(adapted to it from the input texts when there are 50 or more, see `xling transfer adapt`).",
    ),
]


def _language_files(option: str, items: list[str] | None, example: str) -> list[tuple[str, str]]:
    """Return the (language, file) pairs of a repeatable LANG=FILE option; a malformed one is a ConfigError."""
    pairs = []
    for item in items or []:
        lang, sep, file = item.partition("=")
        if not sep or not lang.strip() or not file.strip():
            raise ConfigError(f"{option} {item!r}: expected LANG=FILE, e.g. {option} {example}")
        pairs.append((lang.strip(), file.strip()))
    return pairs


def _for_language(classifier, language: str):
    """Return the classifier reading texts as `language` (classifiers without languages are unchanged)."""
    return classifier.for_language(language) if hasattr(classifier, "for_language") else classifier


def _adapted_to(classifier, language: str, texts: list[str]):
    """Return the classifier reading texts as `language`, adapted to it first from `texts` (the input, its
    labels unknown) when it adapts, does not know the language yet and there are enough texts (50): what
    `transfer predict --language` and `classify --language` both do, so that they label a text alike."""
    from xling.embeddings.remembering import RememberingEncoder
    from xling.transfer.classifier import adapt_languages

    if hasattr(getattr(classifier, "encoder", None), "encode"):  # adapting encodes the texts it then labels
        classifier.encoder = RememberingEncoder(classifier.encoder)
    adapt_languages(classifier, {language: texts})
    return _for_language(classifier, language)


@app.command("adapt")
def adapt(
    model: ClassifierOpt,
    language: Annotated[str, typer.Option("--language", help="The language of the texts in --input.")],
    input: Annotated[
        Path, typer.Option("--input", help="Unlabelled texts of that language, one per line (50 or more).")
    ],
) -> None:
    """Adapt a classifier to a language from its unlabelled texts (statistics, then self-training); saved."""
    from xling.data.readers import read_lines
    from xling.transfer.classifier import load_classifier

    # saved into the model, as `transfer train --unlabelled` is: `transfer eval`'s --adapt-on-test is the
    # transductive way, said so in its output
    check_not_test_set(input, "--input")
    with console.status(f"loading {literal(model)}"):
        classifier = load_classifier(model)
    if not hasattr(classifier, "adapt"):
        raise ConfigError(f"{model}: this kind of classifier does not adapt to languages")
    texts = list(read_lines(input))
    try:
        classifier.adapt(language, texts)
    except DataError as error:
        if error.path is not None:
            raise
        raise DataError(str(error), input) from None  # too few texts: say which file
    classifier.save(model)
    console.print(
        f"[green]{literal(model)} adapted to {literal(language)} from {len(texts):,} unlabelled texts[/]"
    )


@app.command("train")
def train(
    output: Annotated[Path, typer.Option("--output", help="Folder to write the classifier to.")],
    train_file: Annotated[
        Path | None, typer.Option("--train", help="Training data: text<TAB>label .tsv or .jsonl.")
    ] = None,
    umsab: Annotated[
        Path | None,
        typer.Option("--umsab", help="UMSAB-layout folder: train on --language's train split, dev = val."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="Source language: UMSAB folder or code (english, en); with --train, the data's language.",
        ),  # fmt: skip
    ] = None,
    dev: Annotated[
        Path | None, typer.Option("--dev", help="Source-language dev data (.tsv/.jsonl) for model selection.")
    ] = None,
    encoder: Annotated[
        str | None,
        typer.Option("--encoder", help="Encoder folder, shipped name or Hub id (default xling-mini)."),
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="frozen (encoder + logistic regression) or finetune.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a classifier already at --output.")
    ] = False,
    resume: Annotated[
        bool | None,
        typer.Option("--resume/--no-resume", help="finetune: continue from --output's checkpoint."),
    ] = None,
    target_train: Annotated[
        list[str] | None,
        typer.Option(
            "--target-train",
            help="LANG=FILE: a few labelled examples (.tsv/.jsonl) of another language, trained on with the "
            "source data (few-shot; repeatable). The frozen method weighs each `target_weight` times.",
        ),
    ] = None,
    unlabelled: Annotated[
        list[str] | None,
        typer.Option(
            "--unlabelled",
            help="LANG=FILE: unlabelled texts of a target language, one per line (50 or more), adapted to "
            "after training, as `xling transfer adapt` does (repeatable; frozen method).",
        ),
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a text classifier on labelled source-language data; model selection on its dev split only."""
    from xling.atomic import check_apart, check_replaceable
    from xling.data.labelled import read_labelled, read_umsab
    from xling.data.readers import read_lines
    from xling.training.distributed import is_main_process
    from xling.training.loop import unfinished_run
    from xling.transfer.classifier import train_classifier
    from xling.transfer.config import ClassifierConfig

    if (train_file is None) == (umsab is None):
        raise ConfigError("give the training data as --train FILE or --umsab DIR (one of them)")
    config = load_config(ClassifierConfig, recipe, set_ or [], section="transfer", encoder=encoder,
                         method=method, output=str(output),
                         finetune={"resume": resume, "overwrite": overwrite or None})  # fmt: skip
    check_json_apart(json_path, (f"the output folder {output}", output),
                     (f"the encoder folder {config.encoder}", model_folder(config.encoder)))  # fmt: skip
    # the recipe's [transfer.finetune] resume/overwrite count as the options do
    resume, overwrite = config.finetune.resume, config.finetune.overwrite
    target_files = _language_files("--target-train", target_train, "de=reviews.de.tsv")
    unlabelled_files = _language_files("--unlabelled", unlabelled, "de=tweets.de.txt")
    # a data file inside the output would go with it when --overwrite replaces it
    given = [("--train", "file", train_file), ("--dev", "file", dev), ("--umsab", "folder", umsab)]
    inputs = [(f"the {option} {kind} {path}", path) for option, kind, path in given if path is not None]
    inputs += [(f"the {option} file {file}", file) for option, files in (("--target-train", target_files),
                                                                          ("--unlabelled", unlabelled_files))
               for _, file in files]  # fmt: skip
    check_apart(output, inputs)
    # dev picks the model and the unlabelled text adapts it: a test split in any of them is trained on
    for option, kind, path in given:
        if path is not None and kind == "file":
            check_not_test_set(path, option)
    for option, files in (("--target-train", target_files), ("--unlabelled", unlabelled_files)):
        for _, file in files:
            check_not_test_set(file, option)
    if umsab is not None:
        if language is None:
            raise ConfigError("--umsab needs --language, the source language's folder or code (e.g. english)")
        if dev is not None:
            raise ConfigError(
                "--dev goes with --train; with --umsab the dev split is the language's val split"
            )
        train_data, dev_data = read_umsab(umsab, language, "train"), read_umsab(umsab, language, "val")
    else:
        train_data = read_labelled(train_file, language)
        dev_data = read_labelled(dev, language) if dev is not None else None
    parts = [train_data]
    for lang, file in target_files:
        parts.append(read_labelled(file, lang))
    if len(parts) > 1 and train_data.language is None:
        raise ConfigError("--target-train needs --language, the source data's language")
    unlabelled_texts = {lang: list(read_lines(file))
                        for lang, file in unlabelled_files}  # fmt: skip
    options: dict = {}
    # before training, for every method (a fine-tuning run resumes into its own checkpoints, and the training
    # loop replaces a run of its own that was killed before it saved a classifier)
    folder = Path(output)
    # under torchrun only the main process (rank 0) reads and clears the folder: the others first touch it
    # after training's first barrier (their reads raced its deletion: FileNotFoundError, or a false "holds
    # files that are not a classifier"); a refusal here stops the whole torchrun job
    if is_main_process():
        fine_tuning = config.method != "frozen"
        checkpoints = fine_tuning and (folder / "checkpoints").is_dir()
        # a run killed before it saved a classifier holds the loop's entries only (before its first
        # checkpoint: train_log.jsonl, a best/ of an evaluation): --overwrite starts it anew, --resume too
        # where it has no checkpoint to resume; without either it is refused, as it may be another command's
        killed_run = fine_tuning and unfinished_run(folder)
        if not ((checkpoints and resume) or (killed_run and (overwrite or resume))):
            # a fine-tuned classifier is saved into the folder, a frozen one replaces it whole
            check_replaceable(output, overwrite, "classifier", kind=CLASSIFIER_FAMILY,
                              renamed=not fine_tuning)  # fmt: skip
            # frozen replaces another method's classifier when it saves, the fine-tuning methods just before
            # they train (transfer.classifier.replace_other_method): a run that fails first leaves it there
    if config.method == "frozen":
        options["show_progress"] = True
        if unlabelled_texts:
            options["unlabelled"] = unlabelled_texts
    elif unlabelled_texts:
        raise ConfigError(f"--unlabelled: method {config.method} does not adapt to languages (frozen does)")
    else:
        show_training_progress(config.training)
    classifier = train_classifier(config, parts if len(parts) > 1 else train_data, dev_data, **options)
    if not is_main_process():  # under torchrun the main process (rank 0) saved it, and says so
        return
    metadata = dict(getattr(classifier, "metadata", None) or {})
    all_labels = [label for part in parts for label in part.labels]
    counts = ", ".join(f"{label} {all_labels.count(label)}" for label in classifier.labels)
    languages = f" in {len(parts)} languages" if len(parts) > 1 else ""
    console.print(f"[green]{config.method} classifier trained on {len(all_labels)} texts{languages} "
                  f"({escape(counts)}), saved to {literal(output)}[/]")  # fmt: skip
    dev_scores = metadata.get("dev") or {}
    if "macro_f1" in dev_scores:
        chosen = f" with C={metadata['C']:g}" if "C" in metadata else ""
        console.print(
            f"dev macro-F1 {dev_scores['macro_f1']:.1f}, accuracy {dev_scores['accuracy']:.1f}{chosen}"
        )
    write_json(json_path, {"output": str(output), "labels": list(classifier.labels), **metadata})


@app.command("predict")
def predict(
    model: ClassifierOpt,
    input: TextInput,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="FILE.jsonl (JSON lines), any other name TSV (label, probabilities, text); default: TSV on stdout.",
        ),  # fmt: skip
    ] = None,
    language: LanguageOpt = None,
) -> None:
    """Label every line of a text file, with the probability of each label."""
    from xling.atomic import writable_file
    from xling.data.readers import read_lines
    from xling.transfer.classifier import load_classifier, predict_file, prediction_tsv

    if output is not None:
        output = writable_file(output, [input])  # before the encoding, which a bad path would waste
    with console.status(f"loading {literal(model)}"):
        classifier = load_classifier(model)
    if language is not None:
        classifier = _adapted_to(classifier, language, list(read_lines(input)))
    records = predict_file(classifier, input, output)
    if output is not None:
        console.print(f"[green]{len(records)} predictions written to {literal(output)}[/]")
        return
    for line in prediction_tsv(classifier.labels, records, str(input)):
        typer.echo(line)


@app.command("eval")
def evaluate(
    model: ClassifierOpt,
    umsab: Annotated[
        Path | None, typer.Option("--umsab", help="UMSAB-layout folder holding the test languages.")
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(
            "--languages", help="Comma-separated UMSAB languages (default: every folder with the split)."
        ),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="UMSAB split to score: test, or val.")] = "test",
    test: Annotated[
        list[str] | None,
        typer.Option("--test", help="LANG=FILE: a labelled .tsv/.jsonl test set (repeatable)."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="The language the classifier was trained on (default: what it saved)."),
    ] = None,
    adapt_on_test: Annotated[
        bool,
        typer.Option(
            "--adapt-on-test",
            help="Adapt to a language that has no UMSAB train split from its test texts (labels unused; "
            "transductive). Without it such a language is read with the source language's statistics.",
        ),
    ] = False,
    json_path: JsonOut = None,
) -> None:
    """Zero-shot transfer: macro-F1 and accuracy per target language, majority baseline, encoder coverage.

    A classifier that adapts to languages (the frozen default) learns each test language from its UMSAB
    train split's texts (labels unused); the texts it is scored on are never adapted on unless
    --adapt-on-test asks for it.
    """
    from xling.data.labelled import read_labelled, read_umsab, umsab_languages
    from xling.transfer.classifier import (
        adapt_languages,
        knows_language,
        load_classifier,
        training_labels,
        training_record,
    )
    from xling.transfer.evaluate import evaluate_transfer, render_transfer

    if umsab is None and not test:
        raise ConfigError("give the test data as --umsab DIR (with --languages) or --test LANG=FILE")
    check_json_apart(json_path, (f"the model folder {model}", model_folder(model)))
    with console.status(f"loading {literal(model)}"):
        classifier = load_classifier(model)
    metadata = getattr(classifier, "metadata", None) or {}
    source = source or training_record(metadata).get("language")
    if not source:
        raise ConfigError("--source: the classifier does not say which language it was trained on; name it")
    test_sets = {}
    # the unlabelled texts each test language is adapted from: its UMSAB train split, found in the folder its
    # test split was read from (`--languages de` reads umsab/german as `german` does)
    train_texts: dict[str, list[str]] = {}
    if umsab is not None:
        names = languages.split(",") if languages else umsab_languages(umsab, split)
        for name in (n.strip() for n in names if n.strip()):
            test_sets[name] = data = read_umsab(umsab, name, split)
            if split == "train":  # the split scored is the train split itself: its texts are no test texts
                train_texts[name] = data.texts
            elif (Path(data.source).parent / "train_text.txt").is_file():
                train_texts[name] = read_umsab(umsab, name, "train").texts
    for lang, file in _language_files("--test", test, "de=reviews.de.tsv"):
        test_sets[lang] = read_labelled(file, lang)
        train_texts.pop(lang, None)
    # a classifier that standardises per language (and self-trains) learns each target language from its
    # unlabelled texts: the train split's (labels unused), never the texts it is scored on, unless the user
    # asks for it (--adapt-on-test: transductive, and said so)
    unlabelled, on_test, without = {}, {}, []
    for name, data in test_sets.items():
        language = data.language or name
        if name in train_texts:
            unlabelled[language] = train_texts[name]
        elif knows_language(classifier, language):
            continue
        elif adapt_on_test:
            on_test[language] = data.texts
        elif getattr(classifier, "adapts", False):
            without.append(language)
    adapted = adapt_languages(classifier, unlabelled)
    if adapted:
        console.print(f"adapted to {literal(', '.join(adapted))} from their train split's texts (no labels)")
    for code in adapt_languages(classifier, on_test) if on_test else []:
        console.print(f"[yellow]warning:[/] adapted to {literal(code)} from its test texts (--adapt-on-test, labels "
                      "unused): its scores are transductive, not zero-shot")  # fmt: skip
    if without:
        console.print(f"[yellow]warning:[/] not adapted to {literal(', '.join(without))}: no train split to adapt from, "
                      "and test texts are for scoring only (`xling transfer adapt` saves a language; "
                      "--adapt-on-test adapts on the test texts)")  # fmt: skip
    with console.status("scoring"):
        result = evaluate_transfer(classifier, test_sets, source_lang=source,
                                   majority_labels=training_labels(classifier), model=str(model))  # fmt: skip
    # first: a table that fails to print (a closed pipe) loses nothing
    write_json(json_path, result.to_dict())
    typer.echo(render_transfer(result))


def classify(
    texts: Annotated[list[str], typer.Argument(help="Texts to label, in any language.")],
    model: ClassifierOpt,
    language: LanguageOpt = None,
    json_path: JsonOut = None,
) -> None:
    """Label texts in any language with a trained classifier: the label and each label's probability."""
    from rich.table import Table

    from xling.transfer.classifier import load_classifier, predictions

    check_texts(texts)
    check_json_apart(json_path, (f"the model folder {model}", model_folder(model)))
    with console.status(f"loading {literal(model)}"):
        classifier = load_classifier(model)
    if language is not None:
        classifier = _adapted_to(classifier, language, texts)
    records = predictions(classifier, texts)
    table = Table(title=literal(model))
    table.add_column("text")
    table.add_column("label")
    for label in classifier.labels:
        table.add_column(f"p({literal(label)})", justify="right")
    for record in records:
        table.add_row(escape(record["text"]), f"[bold]{escape(record['label'])}[/]",
                      *(f"{p:.3f}" for p in record["probabilities"].values()))  # fmt: skip
    Console(soft_wrap=True).print(table)
    write_json(json_path, {"model": str(model), "labels": list(classifier.labels), "predictions": records})
