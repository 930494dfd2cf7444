"""Benchmark: xling's `Translator` (CTranslate2 int8 and float32, and its PyTorch path) against transformers'
`generate` on the same model, the same inputs, batch 16, beam 4.

  generate      transformers' `generate` (num_beams, length_penalty, the repeat settings, max_new_tokens
                from the same limit; the checkpoint's forced first/last tokens cleared, as the Translator
                does), given the same length-sorted batches and the same source/target token sequences as
                the Translator builds (so it is the decoding engines that are compared, not batching)
  xling-torch   Translator(backend="torch")
  ct2-float32   Translator(backend="ct2") on a float32 conversion (`xling export ct2 --quantization float32`)
  ct2-int8      Translator(backend="ct2") on an int8 conversion (the default of `xling export ct2`)

The contenders alternate within every round (the order rotates), so that noise from a shared machine hits
all alike; target tokens/s is the median over rounds, counting the tokens each path produced (without the
language prefix and `</s>`), and a ratio the median of the rounds' ratios (each over one round's `generate`;
until 2026-12-07 the ratio of the medians). The three Translator paths time `Translator.translate` whole, and that includes
its sentence splitter (pysbd through `xling.translation.segmentation`, about 0.25-0.35 s a round of 500 sentences
on one core), which the `generate` path does not run: it gets the sentences already split. So the ratios
against `generate` are the Translator's end-to-end cost, splitting included, against bare decoding. A greedy
pass checks that the float32 conversion gives the very same output as `generate`; BLEU (sacrebleu) of every
path is against the target-language verses for a trained model (the run exits when the target Bible lacks
one of them), and against the float32 conversion's output for a random one (then it measures int8's
agreement only); `bleu_int8_within_0_5` says whether int8's BLEU is within 0.5 of float32's.

Models: `--model DIR`, a trained translation model folder (e.g. runs/mt-bible), translated --src -> --tgt;
or, by default, a random NLLB-shaped model the script builds (M2M-100 architecture, NllbTokenizer with
NLLB's 202 language codes on a SentencePiece BPE vocabulary trained on Bible verses outside John; d_model,
layers, heads and FFN a scaled-down NLLB-200). Random weights never learned to stop, so their output
length is controlled: max_new_tokens = 1.0 x source tokens (a translation about as long as its source),
reported with the figures. Conversions go into --work (the model folder is never written).

Inputs: the first --sentences (500) single-sentence verses of John in English (../shared/data/bible/eng.tsv.gz;
single-sentence so that the Translator's splitter keeps each as one unit, like the other paths). John has
618 such verses: a larger --sentences is cut to them, with a warning, and the report's settings.sentences
says how many ran. Without the Bible the run exits, unless --generated-inputs asks for sentences of random
words (then a trained model's BLEU is against ct2-float32's output too, and the report says so).

    nice -n 10 .venv/bin/python benchmarks/translate_speed.py --json runs/bench/translate_speed.json
    nice -n 10 .venv/bin/python benchmarks/translate_speed.py --model runs/mt-bible --tgt deu
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from bench_common import log, round_order, write_json  # noqa: E402

PATHS = ("generate", "xling-torch", "ct2-float32", "ct2-int8")
AIMS = "int8 >= 2x generate; float32 CTranslate2 >= 1.2x with identical greedy outputs; int8 BLEU within 0.5"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="trained translation model folder (default: tiny NLLB)")
    parser.add_argument("--data", default=os.environ.get("XLING_DATA", "../shared/data"))
    parser.add_argument("--src", default="eng")
    parser.add_argument("--tgt", default="deu")
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="threads of every path (torch and CTranslate2)"
    )
    parser.add_argument("--work", default=None, help="where conversions (and the tiny model) go; default tmp")
    parser.add_argument("--d-model", type=int, default=256, help="tiny model: hidden size (NLLB-600M: 1024)")
    parser.add_argument("--layers", type=int, default=3, help="tiny model: encoder and decoder layers (12)")
    parser.add_argument("--heads", type=int, default=4, help="tiny model: attention heads (16)")
    parser.add_argument("--ffn", type=int, default=1024, help="tiny model: FFN size (4096)")
    parser.add_argument(
        "--vocab-size", type=int, default=8000, help="tiny model: SentencePiece pieces (256k)"
    )
    parser.add_argument(
        "--init-std", type=float, default=0.02, help="tiny model: weight init std (M2M-100's)"
    )
    parser.add_argument("--generated-inputs", action="store_true",
                        help="random-word sentences instead of John's verses (speed only: BLEU against ct2-float32)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="64 sentences, 1 round (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sentences, args.rounds = 64, 1
    return args


def bible(data: Path, lang: str) -> dict[str, str]:
    """Return verse id -> text of one language's Bible ({} when the file is absent)."""
    path = data / "bible" / f"{lang}.tsv.gz"
    if not path.is_file():
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return dict(line.rstrip("\n").split("\t", 1) for line in handle if "\t" in line)


def generated_sentences(n: int) -> list[str]:
    """Return n sentences of 8-30 random words (a fixed seed)."""
    rng = random.Random(0)
    words = ["the", "people", "said", "that", "he", "would", "come", "to", "the", "city", "and", "see", "light",
             "of", "world", "again", "before", "night", "because", "his", "word", "was", "true", "they"]  # fmt: skip
    return [" ".join(rng.choices(words, k=rng.randint(8, 30))).capitalize() + "." for _ in range(n)]


def inputs(data: Path, src: str, n: int, generated: bool = False) -> tuple[list[str], list[str], str]:
    """Return up to n source sentences, their verse ids ([] when generated) and a line saying where they came
    from: John's single-sentence verses (cut to those there are, with a warning), or with `generated` random-word
    sentences. Exit when there are no such verses and `generated` is off."""
    if generated:
        return generated_sentences(n), [], f"{n} generated sentences of 8-30 words (--generated-inputs)"
    from xling.translation.segmentation import segment

    verses = bible(data, src)
    john = [(vid, segment(text, src).sentences) for vid, text in verses.items() if vid.startswith("JHN.")]
    # the verse's one sentence as the splitter cuts it (without quotes around it): the Translator decodes
    # exactly this text, so every path gets the same tokens
    single = [(vid, sentences[0]) for vid, sentences in john if len(sentences) == 1][:n]
    if not single:
        sys.exit(f"no single-sentence John verse in {data / 'bible' / f'{src}.tsv.gz'}: pass --data, or "
                 "--generated-inputs for random-word sentences (speed only, BLEU against ct2-float32)")  # fmt: skip
    if len(single) < n:
        log(f"warning: --sentences {n}, but John has {len(single)} single-sentence verses in {src}: "
            f"running {len(single)}")  # fmt: skip
    return (
        [t for _, t in single],
        [v for v, _ in single],
        f"first {len(single)} single-sentence John verses ({src})",
    )


def bleu_references(
    data: Path, tgt: str, verse_ids: list[str], trained: bool, generated: bool
) -> tuple[list[str] | None, str]:
    """Return the BLEU references (None: ct2-float32's output) and a line saying what they are. A trained model
    on John's verses is scored against the target verses; the run exits when any of them is missing."""
    if not trained:
        return None, "ct2-float32's own output (random model: agreement with float32, not quality)"
    if generated:
        return None, "ct2-float32's own output (--generated-inputs: no reference translation; agreement only)"
    references = bible(data, tgt)
    missing = [v for v in verse_ids if v not in references]
    if missing:
        sys.exit(f"{len(missing)} of the {len(verse_ids)} John verses have no {tgt} text in {data / 'bible'} "
                 f"(e.g. {', '.join(missing[:3])}): no BLEU reference for them")  # fmt: skip
    return [references[v] for v in verse_ids], f"the {tgt} verses of the same John verses (Bible, {data})"


def build_tiny_nllb(folder: Path, args: argparse.Namespace, data: Path) -> Path:
    """Return `folder` holding a random NLLB-shaped model (M2M-100 architecture, NllbTokenizer)."""
    import sentencepiece as spm
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
    from transformers.convert_slow_tokenizer import NllbConverter, SentencePieceExtractor

    folder.mkdir(parents=True, exist_ok=True)
    texts = [
        t
        for lang in ("eng", "deu", "fra")
        for vid, t in bible(data, lang).items()
        if not vid.startswith("JHN.")
    ]
    if not texts:
        if not args.generated_inputs:
            sys.exit(f"no eng/deu/fra Bible in {data / 'bible'} to train the tiny model's SentencePiece on: "
                     "pass --data, or --generated-inputs")  # fmt: skip
        texts = generated_sentences(5000)
    random.Random(0).shuffle(texts)
    spm_file = folder / "sentencepiece.bpe.model"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts[:60_000]), model_prefix=str(spm_file.with_suffix("")), model_type="bpe",
        vocab_size=args.vocab_size, character_coverage=0.9995, hard_vocab_limit=False, num_threads=args.threads,
        minloglevel=2,
    )  # fmt: skip
    spm_file.with_suffix(".vocab").unlink(missing_ok=True)
    # transformers 5 builds NllbTokenizer on a BPE backend from the SentencePiece merges
    extracted = NllbConverter.convert_from_spm(
        **SentencePieceExtractor(str(spm_file)).extract(NllbTokenizer.model)
    )
    tokenizer = NllbTokenizer(
        vocab=extracted["vocab"],
        merges=extracted["merges"],
        _spm_precompiled_charsmap=extracted.get("_spm_precompiled_charsmap"),
        src_lang="eng_Latn",
    )  # fmt: skip  (no extra_special_tokens: all 202 NLLB codes, as published)
    tokenizer.save_pretrained(folder)
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=args.d_model, encoder_layers=args.layers, decoder_layers=args.layers,
        encoder_attention_heads=args.heads, decoder_attention_heads=args.heads, encoder_ffn_dim=args.ffn,
        decoder_ffn_dim=args.ffn, max_position_embeddings=1024, scale_embedding=True, activation_function="relu", init_std=args.init_std,
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        M2M100ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def converted_copy(model: Path, work: Path, quantization: str) -> Path:
    """Return a folder that links to `model`'s files and holds its own `quantization` CTranslate2 conversion."""
    from xling.export.ct2 import CT2_DIR, export_ct2

    folder = work / f"{model.name}-{quantization}"
    folder.mkdir(parents=True, exist_ok=True)
    for item in model.iterdir():
        link = folder / item.name
        if item.name != CT2_DIR and not link.exists():
            link.symlink_to(item.resolve())
    export_ct2(model, folder / CT2_DIR, quantization=quantization, overwrite=True)
    return folder


class Counting:
    """Wraps a Translator's backend: counts the target tokens of the best hypotheses it returns (each within
    its own sentence's limit, after any decoding again inside the backend: what the Translator returns) and
    keeps its last output of each source sequence (to compare paths token by token with generate's, whatever
    the text layout)."""

    def __init__(self, translator):
        self.tokens, self.outputs = 0, {}
        self.backend, translator.backend = translator.backend, self

    def generate_hypotheses(self, sources, target_prefixes, options):
        hypotheses = self.backend.generate_hypotheses(sources, target_prefixes, options)
        self.tokens += sum(len(ranked[0]) for ranked in hypotheses)
        self.outputs.update(
            (tuple(s), tuple(ranked[0])) for s, ranked in zip(sources, hypotheses, strict=True)
        )
        return hypotheses


class Generate:
    """transformers' generate on the Translator's own token sequences, in its length-sorted batches."""

    def __init__(self, folder: Path, translator):
        from transformers import AutoModelForSeq2SeqLM

        from xling.translation.torch_backend import clear_forced_tokens

        # float32 as the Translator's PyTorch path loads it on a CPU (transformers 5 keeps a half-precision
        # checkpoint's dtype, which would slow only the baseline)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32).eval()
        # the same search as the Translator's (its PyTorch backend's settings, without its token handling)
        clear_forced_tokens(self.model)
        self.tokenizer = translator.tokenizer
        self.conventions = translator.conventions
        self.outputs: dict[tuple, tuple] = {}

    def translate(self, texts: list[str], src: str, tgt: str, options) -> tuple[list[str], int]:
        """Return the translations and the number of target tokens they hold, each output counted up to its
        own sentence's length limit."""
        from xling.translation.torch_backend import search_config

        source_token = self.conventions.source_token(src)
        target_token = self.conventions.target_token(tgt)
        pieces = [self.tokenizer.convert_ids_to_tokens(row)
                  for row in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]  # fmt: skip
        sources = [self.tokenizer.convert_tokens_to_ids(self.conventions.source_sequence(p, source_token, target_token))
                   for p in pieces]  # fmt: skip
        prompt = [self.model.config.decoder_start_token_id,
                  *self.tokenizer.convert_tokens_to_ids(self.conventions.target_prefix(target_token))]  # fmt: skip
        pad, eos = self.model.config.pad_token_id, self.model.config.eos_token_id
        order = sorted(range(len(texts)), key=lambda i: -len(sources[i]))
        outputs, tokens = [""] * len(texts), 0
        for start in range(0, len(order), options.batch_size):
            batch = order[start : start + options.batch_size]
            width = max(len(sources[i]) for i in batch)
            ids = torch.tensor([sources[i] + [pad] * (width - len(sources[i])) for i in batch])
            config = search_config(self.model, options, options.max_new_tokens(width))
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=ids, attention_mask=(ids != pad).long(),
                    decoder_input_ids=torch.tensor([prompt] * len(batch)), generation_config=config,
                )  # fmt: skip
            rows = generated[:, len(prompt) :].tolist()
            # each output cut to its own sentence's limit, as the Translator's are (the batch is decoded to
            # its longest source's): counted, compared and scored so
            rows = [[t for t in row if t not in (pad, eos)][: options.output_limit(sources[i])]
                    for i, row in zip(batch, rows, strict=True)]  # fmt: skip
            tokens += sum(len(row) for row in rows)
            for i, row in zip(batch, rows, strict=True):
                key = tuple(self.tokenizer.convert_ids_to_tokens(sources[i]))
                self.outputs[key] = tuple(self.tokenizer.convert_ids_to_tokens(row))
            for i, text in zip(
                batch, self.tokenizer.batch_decode(rows, skip_special_tokens=True), strict=True
            ):
                outputs[i] = text.strip()
        return outputs, tokens


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from xling.evaluation.mt import bleu_metric
    from xling.translation.decoding import DecodeOptions
    from xling.translation.translator import Translator

    args = parse_args(argv)
    data = Path(args.data)
    torch.set_num_threads(args.threads)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="translate_speed_"))
    texts, verse_ids, where = inputs(data, args.src, args.sentences, args.generated_inputs)
    trained = args.model is not None
    refs, bleu_reference = bleu_references(data, args.tgt, verse_ids, trained, args.generated_inputs)
    started = time.perf_counter()
    if trained:
        model = Path(args.model)
        name = model.name
        options = DecodeOptions(beam_size=args.beam, batch_size=args.batch_size)
        length_control = (
            f"natural (the model's </s>); limit {options.max_length_a} x source + {options.max_length_b}"
        )
    else:
        model = build_tiny_nllb(work / "nllb-tiny", args, data)
        name = (f"random NLLB-shaped (d{args.d_model}, {args.layers}+{args.layers} layers, {args.heads} heads, "
                f"FFN {args.ffn}, vocab {args.vocab_size:,} + 202 codes)")  # fmt: skip
        options = DecodeOptions(
            beam_size=args.beam, batch_size=args.batch_size, max_length_a=1.0, max_length_b=0
        )
        length_control = (
            "fixed: random weights never stop, so max_new_tokens = 1.0 x source tokens (generate: of the "
            "batch's longest source, each output cut to its own)"
        )
    log(f"model: {name}; inputs: {where}; setup {time.perf_counter() - started:.0f} s")

    translators = {
        "xling-torch": Translator.from_pretrained(model, backend="torch", threads=args.threads),
        "ct2-float32": Translator.from_pretrained(
            converted_copy(model, work, "float32"), backend="ct2", threads=args.threads
        ),  # fmt: skip
        "ct2-int8": Translator.from_pretrained(
            converted_copy(model, work, "int8"), backend="ct2", threads=args.threads
        ),  # fmt: skip
    }
    counters = {path: Counting(t) for path, t in translators.items()}
    generate = Generate(model, translators["xling-torch"])

    def run(path: str, sentences: list[str], decode: DecodeOptions) -> tuple[list[str], int, float]:
        begin = time.perf_counter()
        if path == "generate":
            outputs, tokens = generate.translate(sentences, args.src, args.tgt, decode)
        else:
            counter = counters[path]
            before = counter.tokens
            outputs = translators[path].translate(sentences, args.src, args.tgt, decode)
            tokens = counter.tokens - before
        return outputs, tokens, time.perf_counter() - begin

    for path in PATHS:  # warm-up: first calls allocate and load lazily
        run(path, texts[: args.batch_size], options)
    speeds: dict[str, list[float]] = {p: [] for p in PATHS}
    # the same inputs on every path: sentences/s compares the time to translate them whatever the outputs' lengths
    sentence_speeds: dict[str, list[float]] = {p: [] for p in PATHS}
    lengths: dict[str, float] = {}
    outputs: dict[str, list[str]] = {}
    for r in range(args.rounds):
        for path in round_order(PATHS, r):
            out, tokens, seconds = run(path, texts, options)
            speeds[path].append(tokens / seconds)
            sentence_speeds[path].append(len(texts) / seconds)
            lengths[path], outputs[path] = tokens / len(texts), out
            log(f"round {r + 1}/{args.rounds} {path}: {tokens / seconds:,.0f} tokens/s ({seconds:.1f} s)")
    median = {p: statistics.median(v) for p, v in speeds.items()}
    # each ratio is the median of one round's ratios: a round where the machine slowed slows every path of it
    # alike, which medians taken apart do not see
    ratio = {
        p: statistics.median(a / b for a, b in zip(v, speeds["generate"], strict=True))
        for p, v in speeds.items()
    }

    greedy = DecodeOptions(beam_size=1, batch_size=args.batch_size, max_length_a=options.max_length_a,
                           max_length_b=options.max_length_b)  # fmt: skip
    for recorder in (generate, *counters.values()):
        recorder.outputs.clear()
    for path in ("generate", "xling-torch", "ct2-float32"):
        run(path, texts, greedy)
    # token by token: the Translator's text also restores the source's layout (quotes around a sentence),
    # which a plain generate call does not
    reference_tokens = generate.outputs
    identical = reference_tokens == counters["ct2-float32"].outputs
    differing = sum(counters["ct2-float32"].outputs.get(k) != v for k, v in reference_tokens.items())
    torch_identical = reference_tokens == counters["xling-torch"].outputs

    if refs is None:
        refs = outputs["ct2-float32"]
    # sacrebleu's tokenizer for the target language (13a would make unspaced Chinese one token a sentence)
    metric = bleu_metric(args.tgt)
    bleu_scores = {p: metric.corpus_score(outputs[p], [refs]).score for p in PATHS}
    bleu = {p: round(v, 2) for p, v in bleu_scores.items()}

    report = {
        "tokens_per_s": {p: round(v, 1) for p, v in median.items()},
        "ratio_int8_vs_hf": round(ratio["ct2-int8"], 3),
        "identical_greedy": identical,
        "bleu": bleu,
        "bleu_int8_within_0_5": int8_within(bleu_scores),
        "ratio_vs_hf": {p: round(v, 3) for p, v in ratio.items()},
        "rounds_tokens_per_s": {p: [round(x, 1) for x in v] for p, v in speeds.items()},
        "sentences_per_s": {p: round(statistics.median(v), 2) for p, v in sentence_speeds.items()},
        "sentences_ratio_vs_hf": {
            p: round(statistics.median(a / b for a, b in zip(v, sentence_speeds["generate"], strict=True)), 3)
            for p, v in sentence_speeds.items()
        },
        "target_tokens_per_sentence": {p: round(v, 2) for p, v in lengths.items()},
        "greedy_differing_sentences": differing,
        "greedy_torch_identical_to_hf": torch_identical,
        # the timed runs' texts (beam search): xling's two paths make the same step (CTranslate2Step)
        "beam_torch_differing_from_ct2_float32": sum(
            a != b for a, b in zip(outputs["xling-torch"], outputs["ct2-float32"], strict=True)
        ),
        "bleu_reference": bleu_reference,
        "bleu_signature": str(metric.get_signature()),
        "length_control": length_control,
        "model": name,
        "inputs": where,
        "settings": {
            "sentences": len(texts),
            "batch_size": args.batch_size,
            "beam": args.beam,
            "rounds": args.rounds,
            "threads": args.threads,
            "src": args.src,
            "tgt": args.tgt,
            "torch": torch.__version__,
            "ctranslate2": _version("ctranslate2"),
            "transformers": _version("transformers"),
        },  # fmt: skip
    }
    print_table(report)
    write_json(report, args.json)
    return report


def int8_within(bleu: dict[str, float], margin: float = 0.5) -> bool | None:
    """Return whether int8's BLEU is within `margin` of float32's (None when either figure is missing)."""
    if bleu.get("ct2-int8") is None or bleu.get("ct2-float32") is None:
        return None
    return abs(bleu["ct2-int8"] - bleu["ct2-float32"]) <= margin


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    s = report["settings"]
    table = Table(title=f"translate speed: {report['model']}\n{s['sentences']} sentences {s['src']} -> {s['tgt']}, "
                        f"batch {s['batch_size']}, beam {s['beam']}, {s['threads']} thread(s), "
                        f"median of {s['rounds']} alternating rounds")  # fmt: skip
    for column in ("path", "target tokens/s", "rounds", "x generate", "sentences/s", "x generate",
                   "tokens/sentence", "BLEU"):  # fmt: skip
        table.add_column(column, justify="left" if column == "path" else "right")
    for path, speed in report["tokens_per_s"].items():
        rounds = " ".join(f"{x:,.0f}" for x in report["rounds_tokens_per_s"][path])
        table.add_row(path, f"{speed:,.0f}", rounds, f"{report['ratio_vs_hf'][path]:.2f}",
                      f"{report['sentences_per_s'][path]:,.1f}", f"{report['sentences_ratio_vs_hf'][path]:.2f}",
                      f"{report['target_tokens_per_sentence'][path]:.1f}", f"{report['bleu'][path]:.2f}")  # fmt: skip
    console = Console()
    console.width = max(console.width, 120)
    console.print(table)
    console.print(f"output length: {report['length_control']}")
    console.print(f"BLEU reference: {report['bleu_reference']} (generate's text is the bare decoded tokens; the "
                  "Translator's also gets the source's layout back, such as quotes around a verse)")  # fmt: skip
    console.print(f"greedy ct2-float32 == generate: {report['identical_greedy']} "
                  f"({report['greedy_differing_sentences']} sentences differ); xling-torch == generate: "
                  f"{report['greedy_torch_identical_to_hf']}")  # fmt: skip
    console.print(f"beam {report['settings']['beam']}: xling-torch and ct2-float32 differ on "
                  f"{report['beam_torch_differing_from_ct2_float32']} of {report['settings']['sentences']} "
                  "sentences")  # fmt: skip
    console.print(f"int8 BLEU within 0.5 of float32: {report['bleu_int8_within_0_5']}")
    console.print(f"aims: {AIMS}")


if __name__ == "__main__":
    main()
