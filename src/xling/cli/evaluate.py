"""`xling eval`: the field's benchmarks, each one command with a table and --json."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from xling.cli.bot import eval_bot
from xling.cli.common import (
    JsonOut,
    MappingFolder,
    Recipe,
    Sets,
    SrcVectors,
    TgtVectors,
    UnicodeErrors,
    check_json_apart,
    console,
    literal,
    load_encoder,
    model_folder,
    print_scores,
    write_json,
)
from xling.config import load_config

app = typer.Typer(help="The field's benchmarks, each one command with a report.", no_args_is_help=True)


@app.command("bli")
def eval_bli(
    src: SrcVectors,
    tgt: TgtVectors,
    mapping: MappingFolder,
    dictionary: Annotated[str | None, typer.Option(help="Test dictionary, src<TAB>tgt per line.")] = None,
    retrieval: Annotated[str | None, typer.Option(help="nn, csls (k=10) or isf (inverted softmax).")] = None,
    max_vocab: Annotated[
        int | None, typer.Option(help="Words of each vocabulary to load (default 200000, MUSE's); 0 = all.")
    ] = None,
    lowercase: Annotated[
        bool | None,
        typer.Option(
            "--lowercase/--case-sensitive",
            help="Look words up lowercased, each word's most frequent spelling, as MUSE's protocol does (the "
            "default); --case-sensitive: the case-sensitive variant, words as written.",
        ),
    ] = None,
    unicode_errors: UnicodeErrors = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Bilingual lexicon induction: precision@k of word translation (k = 1, 5, 10 unless `ks` is set), with
    dictionary coverage, by MUSE's protocol (words lowercased; --case-sensitive for the variant)."""
    from rich.table import Table

    from xling.evaluation.bli import BLIConfig, evaluate_bli_from_files

    config = load_config(BLIConfig, recipe, set_ or [], section="bli", dictionary=dictionary,
                         retrieval=retrieval, max_vocab=max_vocab, lowercase=lowercase,
                         unicode_errors=unicode_errors)  # fmt: skip
    check_json_apart(json_path, (f"the mapping folder {mapping}", model_folder(mapping)))
    result = evaluate_bli_from_files(src, tgt, mapping, config)
    write_json(json_path, result.to_dict())  # first: a failing table must not lose the evaluation
    ((pair, row),) = result.scores.items()
    coverage = row["coverage"]
    # the precisions that `ks` asked for (--set 'ks=[1]' has no P@5), in rank order
    precisions = sorted((key for key in row if key.startswith("p@")), key=lambda key: int(key[2:]))
    case = "lowercased" if result.settings["lowercase"] else "case-sensitive"
    table = Table(title=literal(f"BLI {pair}: {result.model} + {result.settings['retrieval']}, {case}"))
    for column in (*(key.upper() for key in precisions), "covered pairs"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{row[key]:.2f}" for key in precisions),
                  f"{coverage['pairs_covered']}/{coverage['lines']} ({100 * coverage['fraction']:.1f}%)")  # fmt: skip
    Console().print(table)


ModelOrDefault = Annotated[
    str | None, typer.Option("--model", help="Encoder folder, shipped name or Hub id (default: xling-mini).")
]


@app.command("tatoeba")
def eval_tatoeba(
    model: ModelOrDefault = None,
    data: Annotated[
        str | None, typer.Option(help="Folder holding tatoeba/ (default: $XLING_DATA, else ../shared/data).")
    ] = None,
    langs: Annotated[str | None, typer.Option(help="Comma-separated languages, or 'all'.")] = None,
    scoring: Annotated[
        str | None,
        typer.Option(
            help="cosine, margin (LASER's xsim: ratio margin among the k=4 nearest) or margin-full."
        ),
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Tatoeba retrieval accuracy (LASER/XTREME search), both directions, per language and averaged (XTREME's
    published figure is one direction: the src2eng column)."""
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba, load_tatoeba

    config = load_config(TatoebaConfig, recipe, set_ or [], section="tatoeba", model=model, data=data,
                         scoring=scoring, languages=langs.split(",") if langs else None)  # fmt: skip
    check_json_apart(json_path, (f"the model folder {config.model}", model_folder(config.model)))
    tests = load_tatoeba(config)  # a bad code or a damaged file is reported before the model loads
    encoder = load_encoder(config.model)
    with console.status("Tatoeba") as status:
        result = evaluate_tatoeba(encoder, config, tests=tests,
                                  progress=lambda lang: status.update(f"Tatoeba: {literal(lang)}"))  # fmt: skip
    # first: a table that fails to print (a closed pipe) loses nothing
    write_json(json_path, result.to_dict())
    print_scores(result, ("src2eng", "eng2src"))


@app.command("mining")
def eval_mining(
    model: ModelOrDefault = None,
    data: Annotated[
        str | None, typer.Option(help="Folder holding bible/ (default: $XLING_DATA, else ../shared/data).")
    ] = None,
    langs: Annotated[
        str | None, typer.Option(help="Languages mined against English (default: deu,fra,rus,cmn).")
    ] = None,
    book: Annotated[
        str | None, typer.Option(help="Held-out book whose verses are the true pairs (default: JHN).")
    ] = None,
    distractors: Annotated[int | None, typer.Option(help="Non-parallel verses per side.")] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """BUCC-style mining test from the Bible: a held-out book's verse pairs hidden among other verses."""
    from rich.table import Table

    from xling.evaluation.mining import MiningEvalConfig, build_mining_tests, evaluate_mining

    config = load_config(MiningEvalConfig, recipe, set_ or [], section="mining", model=model, data=data,
                         languages=langs.split(",") if langs else None, book=book,
                         distractors=distractors)  # fmt: skip
    check_json_apart(json_path, (f"the model folder {config.model}", model_folder(config.model)))
    with console.status("building the mining tests"):  # a bad book or code is said before the model loads
        tests = build_mining_tests(config)
    encoder = load_encoder(config.model)
    with console.status("mining"):
        result = evaluate_mining(encoder, tests)
    write_json(json_path, result.to_dict())  # first, as above
    table = Table(title=literal(f"mining ({config.book} hidden among other verses): {result.model}"))
    for column in ("pair", "precision", "recall", "F1", "threshold"):
        table.add_column(column, justify="left" if column == "pair" else "right")
    for pair, row in result.scores.items():
        table.add_row(literal(pair), f"{100 * row['precision']:.1f}", f"{100 * row['recall']:.1f}", f"{100 * row['f1']:.1f}",
                      "" if row["threshold"] is None else f"{row['threshold']:.3f}")  # fmt: skip
    table.add_row("[bold]average F1[/]", "", "", f"[bold]{100 * result.average:.1f}[/]", "")
    Console().print(table)


def _load_translator(model: str, backend: str):
    """Return the Translator of a model folder or shipped name, with a spinner while it loads."""
    from xling.translation.translator import Translator

    with console.status(f"loading {literal(model)}"):
        return Translator.from_pretrained(model, backend=backend)


def _default_translation_model() -> str:
    """Return the name of the model `xling translate` uses when none is given."""
    from xling.translation.translator import DEFAULT_MODEL

    return DEFAULT_MODEL


def _print_mt(result) -> None:
    """Print an mt result: a row per direction (direct, and through the pivot where it applies), averages,
    then each distinct sacrebleu signature; the title says how it decoded (the beam, and each other search
    setting that is not DecodeOptions' default: the model's own, or one given)."""
    from rich.table import Table

    from xling.translation.decoding import DecodeOptions

    decoded, defaults = result.settings["decode"], DecodeOptions()
    searched = ("length_penalty", "repetition_penalty", "no_repeat_ngram_size")
    others = [f"{name.replace('_', ' ')} {decoded[name]:g}" for name in searched
              if decoded[name] != getattr(defaults, name)]  # fmt: skip
    how = ", ".join([f"beam {decoded['beam_size']}", *others])

    pivoted = [row for row in result.scores.values() if "pivot_chrf++" in row]
    via = (
        [f"BLEU via {result.settings['pivot']}", f"chrF++ via {result.settings['pivot']}"] if pivoted else []
    )
    table = Table(title=literal(f"mt ({result.settings['testset']}): {result.model}, {how}"))
    for column in ["direction", "n", "BLEU", "chrF++", *via]:
        table.add_column(column, justify="left" if column == "direction" else "right")
    for label, row in result.scores.items():
        cells = [
            f"{row[key]:.1f}" if key in row else ""
            for key in ("bleu", "chrf++", "pivot_bleu", "pivot_chrf++")
        ]
        table.add_row(literal(label), str(row["n"]), *cells[: 2 + len(via)])
    if both := result.settings.get("pivot_average"):
        table.add_row(f"average ({both['directions']} pivoted)", "", "", f"{both['chrf++']:.1f}", "",
                      f"{both['pivot_chrf++']:.1f}")  # fmt: skip
    table.add_row("[bold]average[/]", "", "", f"[bold]{result.average:.1f}[/]", *[""] * len(via))
    Console().print(table)
    for metric, name in (("bleu", "BLEU"), ("chrf++", "chrF++")):
        groups: dict[str, list[str]] = {}
        for label, signatures in result.settings["signatures"].items():
            groups.setdefault(signatures[metric], []).append(label)
        for signature, labels in groups.items():
            which = "" if len(groups) == 1 else f" ({', '.join(labels)})"
            console.print(f"{name} signature{literal(which)}: {literal(signature)}")


def _comma_list(text: str | None) -> list[str] | None:
    """Return the items of a comma-separated option (None stays None)."""
    return None if text is None else [item.strip() for item in text.split(",") if item.strip()]


@app.command("mt")
def eval_mt(
    model: Annotated[
        str | None,
        typer.Option("--model", help="Translation model folder or shipped name (default: xling-mt-bible)."),
    ] = None,
    testset: Annotated[
        str | None, typer.Option(help="bible (a held-out book), ntrex (news) or tatoeba (xx <-> eng only).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="Folder holding bible/, ntrex/ or tatoeba/ (default: $XLING_DATA, else ../shared/data)."
        ),
    ] = None,
    directions: Annotated[
        str | None,
        typer.Option(help="Comma-separated src-tgt directions (default: eng-deu,eng-fra,eng-spa)."),
    ] = None,
    src: Annotated[
        str | None, typer.Option("--src", help="Source languages (with --tgt: every pair).")
    ] = None,
    tgt: Annotated[
        str | None, typer.Option("--tgt", help="Target languages (with --src: every pair).")
    ] = None,
    pivot: Annotated[
        str | None,
        typer.Option(help="Also translate through this language (eng), beside the direct direction."),
    ] = None,
    beam: Annotated[
        int | None, typer.Option(help="Beam size (1 = greedy; default: the model's own, else 4).")
    ] = None,
    max_sentences: Annotated[
        int | None, typer.Option(help="Score the first N sentences of each direction (default: all).")
    ] = None,
    heldout_prefixes: Annotated[
        str | None, typer.Option(help="bible: comma-separated verse id prefixes scored (default: JHN.).")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="Translator backend (default: auto, CTranslate2 when converted).")
    ] = None,
    hypotheses: Annotated[
        str | None, typer.Option(help="Folder to write each direction's translations to.")
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Translation quality: sacrebleu BLEU and chrF++ per direction, with signatures, direct and via a pivot."""
    from xling.errors import ConfigError
    from xling.evaluation.mt import MTEvalConfig, evaluate_mt, expand_directions, load_tests

    if (src or tgt) and not (src and tgt):
        raise ConfigError("--src and --tgt go together (every src-tgt pair); or give --directions")
    if src and directions:
        raise ConfigError("give either --directions or --src/--tgt, not both")
    pairs = expand_directions(_comma_list(src), _comma_list(tgt)) if src and tgt else _comma_list(directions)
    config = load_config(MTEvalConfig, recipe, set_ or [], section="eval_mt", model=model, testset=testset,
                         data=data, directions=pairs, pivot=pivot, max_sentences=max_sentences,
                         heldout_prefixes=_comma_list(heldout_prefixes), backend=backend, hypotheses=hypotheses,
                         decode={"beam_size": beam})  # fmt: skip
    config.model = config.model or _default_translation_model()
    check_json_apart(json_path, (f"the model folder {config.model}", model_folder(config.model)))
    if json_path is not None and config.hypotheses:
        from xling.atomic import same_path

        # the report would be written over a direction's translations, or they over it
        if any(same_path(json_path, path) for path in config.hypothesis_files()):
            raise ConfigError(f"--json: {json_path} is one of the translation files --hypotheses writes; "
                              "choose another name")  # fmt: skip
    tests = load_tests(config)  # a missing data file is reported before a model loads for minutes
    translator = _load_translator(config.model, config.backend)
    result = evaluate_mt(translator, config, tests=tests, show_progress=True,
                         on_direction=lambda label: console.print(f"translating {literal(label)}"))  # fmt: skip
    # first: a table that fails to print (a closed pipe) loses nothing
    write_json(json_path, result.to_dict())
    _print_mt(result)


# defined beside the bot's other commands; registered here so that it is `xling eval bot`
app.command("bot")(eval_bot)
