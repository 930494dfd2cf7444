"""`xling bot build/ask/tune` (the multilingual support bot) and `eval_bot` (`xling eval bot`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from xling.artifacts import json_line
from xling.cli.common import (
    JsonOut,
    Recipe,
    Sets,
    check_json_apart,
    check_texts,
    console,
    literal,
    model_folder,
    write_json,
)

app = typer.Typer(help="The multilingual support bot: build one from an FAQ, ask it, tune its threshold.",
                  no_args_is_help=True)  # fmt: skip

BotFolder = Annotated[Path, typer.Argument(help="Bot folder from `xling bot build`.")]
Detector = Annotated[
    str | None, typer.Option("--detector", help="Language detector folder or name (default: xling-langid).")
]
TranslatorOpt = Annotated[
    str | None,
    typer.Option("--translator", help="Translation model for answers in languages the FAQ does not store "
                 "(default: none, those get the FAQ's own answer; `xling eval bot --translator M` scores M "
                 "on the FAQ's stored answers first)."),
]  # fmt: skip


@app.command("build")
def build(
    faq: Annotated[
        str | None,
        typer.Option(
            "--faq",
            help="question<TAB>answer file, JSONL ({question, answer, answers: {lang: text}}) "
            "or a folder like the bundled sample (faq.<lang>.tsv + answers.<lang>.tsv).",
        ),
    ] = None,  # fmt: skip
    output: Annotated[str | None, typer.Option("--output", help="Folder to write the bot to.")] = None,
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="Sentence encoder folder or name (default: xling-mini).")
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language of a TSV/JSONL FAQ (default: eng).")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Score below which the bot hands over (default: chosen on dev).")
    ] = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite/--no-overwrite", help="Replace an existing bot folder.")
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Index an FAQ's questions and answers in xling's shared space, as a bot folder."""
    from xling.bot.bot import BotBuildConfig, build_bot
    from xling.config import config_to_dict, load_config
    from xling.errors import ConfigError

    config = load_config(BotBuildConfig, recipe, set_ or [], section="bot", faq=faq, output=output,
                         encoder=encoder, language=lang, threshold=threshold, overwrite=overwrite)  # fmt: skip
    if not config.faq or not config.output:
        raise ConfigError("give --faq FAQ and --output DIR")
    from xling.atomic import check_folder_place

    check_folder_place(config.output)  # before the FAQ is embedded
    check_json_apart(json_path, (f"the output folder {config.output}", config.output),
                     (f"the encoder folder {config.encoder}", model_folder(config.encoder)))  # fmt: skip
    with console.status(f"embedding the FAQ with {literal(config.encoder)}"):
        folder = build_bot(config.faq, config.output, config.encoder, config)
    from xling.artifacts import read_metadata

    meta = read_metadata(folder)
    console.print(f"[green]{meta['entries']} entries ({meta['rows']} texts, answers in "
                  f"{literal(', '.join(meta['languages']))}) -> {literal(folder)}[/]; threshold "
                  f"{meta['threshold']} ({literal(meta['threshold_source'])})")  # fmt: skip
    write_json(json_path, {"output": str(folder), **meta, "config": config_to_dict(config)})


@app.command("ask")
def ask(
    folder: BotFolder,
    questions: Annotated[list[str], typer.Argument(help="Question(s) to answer.")],
    lang: Annotated[
        str | None, typer.Option("--lang", help="The asker's language (default: detected).")
    ] = None,
    detector: Detector = None,
    translator: TranslatorOpt = None,
    threshold: Annotated[float | None, typer.Option(help="Override the bot's threshold.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per question.")] = False,
) -> None:
    """Answer each QUESTION from the bot's FAQ, in the asker's language, or say it hands over."""
    check_texts(questions, "QUESTION")
    bot = _load(folder, detector, translator, threshold)
    replies = bot.answer_many(list(questions), [lang] * len(questions) if lang else None)
    for reply in replies:
        if as_json:
            typer.echo(json_line(reply.to_dict()))
            continue
        asked = f"asked in {reply.detected_language or '?'}"
        if reply.answered:
            typer.echo(reply.answer)
            note = "" if reply.in_asker_language else " (not the asker's language)"
            console.print(f"  [dim]{literal(reply.id)}: {literal(reply.matched_question)} | score "
                          f"{reply.score:.4g} >= {reply.threshold:.4g} | {literal(asked)}, answered in "
                          f"{literal(reply.answer_language)} ({literal(reply.answer_source)}){note}[/]")  # fmt: skip
        else:
            typer.echo("(no answer: handing over to a person)")
            closest = ", ".join(f"{c.id} {c.score:.3f}" for c in reply.candidates)
            why = ("no letter in the question" if reply.handover_reason == "no_letter"
                   else f"score {reply.score:.4g} < {reply.threshold:.4g}")  # fmt: skip
            console.print(f"  [dim]{why} | {literal(asked)} | closest: {literal(closest)}[/]")


@app.command("tune")
def tune(
    folder: BotFolder,
    dev: Annotated[
        Path | None,
        typer.Option(
            "--dev",
            help="Folder of dev.<lang>.tsv files (id<TAB>question, id - for a question the "
            "FAQ does not answer); default: the bundled sample's.",
        ),
    ] = None,  # fmt: skip
    langs: Annotated[str | None, typer.Option(help="Comma-separated languages (default: all).")] = None,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Store the chosen threshold in the bot folder.")
    ] = True,
    json_path: JsonOut = None,
) -> None:
    """Choose the bot's threshold on dev questions: the best mean of right answers and correct handovers."""
    from xling.bot.bot import write_threshold
    from xling.bot.evaluate import tune_threshold
    from xling.bot.faq import read_question_sets, sample_faq_dir
    from xling.data.languages import normalize_language
    from xling.errors import DataError

    check_json_apart(json_path, (f"the bot folder {folder}", folder))
    root = dev or sample_faq_dir()
    sets = read_question_sets(root, "dev")
    wanted = (
        [normalize_language(code, where="--langs") for code in langs.split(",")] if langs else sorted(sets)
    )
    if not wanted or any(lang not in sets for lang in wanted):
        raise DataError(f"no dev.<lang>.tsv for "
                        f"{', '.join(lang for lang in wanted if lang not in sets) or 'any language'}", root)  # fmt: skip
    bot = _load(folder, None, None, None, detect=False)
    choice = tune_threshold(bot, [question for lang in wanted for question in sets[lang]])
    typer.echo(f"threshold {choice.threshold}: {choice.answered_right:.1%} of {choice.answerable} answerable dev "
               f"questions answered right, {choice.no_answer:.1%} of {choice.unanswerable} others left to a "
               f"person (top-1 {choice.top1:.1%})")  # fmt: skip
    if write:
        write_threshold(folder, choice.threshold, f"xling bot tune on {root} ({', '.join(wanted)})")
        console.print(f"[green]stored in {literal(folder)}/xling.json[/]")
    write_json(json_path, {**choice.to_dict(), "dev": str(root), "languages": wanted})


def eval_bot(
    bot: Annotated[
        Path | None,
        typer.Option(
            "--bot", help="Bot folder (default: one built from the bundled FAQ sample in a temp dir)."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder of questions.<lang>.tsv and offtopic.<lang>.tsv (default: the bundled sample's).",
        ),
    ] = None,  # fmt: skip
    langs: Annotated[str | None, typer.Option(help="Comma-separated languages (default: all).")] = None,
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="Encoder of the bot built when --bot is not given.")
    ] = None,
    detector: Detector = None,
    translator: TranslatorOpt = None,
    json_path: JsonOut = None,
) -> None:
    """Support bot: top-1 accuracy per language on paraphrased FAQ questions, right answers above the
    threshold, and correct "no answer" on off-topic questions; with --translator, its chrF++ on the answers
    the FAQ stores in each language."""
    from xling.bot.evaluate import evaluate_bot

    check_json_apart(json_path, (f"the bot folder {bot}", model_folder(bot)),
                     (f"the encoder folder {encoder}", model_folder(encoder)))  # fmt: skip
    languages = [code.strip() for code in langs.split(",") if code.strip()] if langs else None
    if bot is not None:
        result = evaluate_bot(_load(bot, detector, translator, None), data, languages)
    else:
        from xling.bot.bot import DEFAULT_ENCODER, BotBuildConfig, build_bot
        from xling.bot.faq import sample_faq_dir

        with tempfile.TemporaryDirectory(prefix="xling-bot-") as tmp:
            model = encoder or DEFAULT_ENCODER
            with console.status(f"building a bot from the bundled FAQ sample with {literal(model)}"):
                folder = build_bot(sample_faq_dir(), Path(tmp) / "bot", model, BotBuildConfig())
            result = evaluate_bot(_load(folder, detector, translator, None), data, languages,
                                  name=f"bundled FAQ sample bot ({model})")  # fmt: skip
    _print_result(result)
    write_json(json_path, result.to_dict())


def _load(folder: Path, detector: str | None, translator: str | None, threshold: float | None, *,
          detect: bool = True):  # fmt: skip
    """Return the SupportBot in `folder`, with a spinner while its models load; a `translator` the user
    named is loaded now, and one that cannot be is an XlingError naming --translator, before any answer
    (a server instead answers in the FAQ's language when its translator fails)."""
    from xling.bot.bot import DEFAULT_TRANSLATOR, SupportBot
    from xling.errors import XlingError
    from xling.langid import DEFAULT_IDENTIFIER

    with console.status(f"loading {literal(folder)}"):
        bot = SupportBot.load(folder, detector=(detector or DEFAULT_IDENTIFIER) if detect else None,
                              translator=translator or DEFAULT_TRANSLATOR,
                              threshold=threshold)  # fmt: skip
        if translator is not None:
            try:
                bot.load_translator()
            except XlingError as error:
                raise XlingError(f"--translator: {error}") from None
    return bot


def _print_result(result) -> None:
    """Print `xling eval bot`'s table: a row per language, then the averages."""
    from rich.console import Console
    from rich.table import Table

    columns = ["accuracy", "answered_right", "answered_wrong", "no_answer", "detected", "in_language"]
    # short headers: a piped table is 80 columns wide
    headers = ["lang", "top-1", "right", "wrong", "no answer", "detected", "in lang"]
    if any("translation_chrf" in row for row in result.scores.values()):
        columns.append("translation_chrf")
        headers.append("MT chrF++")
    table = Table(title=literal(f"support bot: {result.model} (threshold {result.settings['threshold']}, "
                                f"{result.settings['margin']} margin)"))  # fmt: skip
    for column in (*headers, "n", "off n"):
        table.add_column(column, justify="left" if column == "lang" else "right")
    for lang, row in result.scores.items():
        cells = ["" if row.get(c) is None else f"{row[c]:.1f}" for c in columns]
        table.add_row(literal(lang), *cells, str(row["n"]), str(row["n_offtopic"]))
    means = []
    for column in columns:
        values = [row[column] for row in result.scores.values() if row.get(column) is not None]
        means.append(f"{sum(values) / len(values):.1f}" if values else "")
    table.add_row("[bold]average[/]", *means, "", "")
    Console().print(table)
    console.print("top-1: best entry right, any score; right/wrong: answered (score >= threshold) with the right "
                  "/ a wrong entry; no answer: off-topic questions left to a person; detected: language "
                  "detected; in lang: right answers in the asker's language (percent); MT chrF++: the "
                  "translator's versions of the FAQ's answers against those it stores")  # fmt: skip
