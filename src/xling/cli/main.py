"""The `xling` command line: the root app, where every verb group is registered, and the entry point."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from xling.cli import (
    adapt,
    align,
    bot,
    embed,
    evaluate,
    index,
    langid,
    mine,
    mt,
    pretrain,
    quickstart,
    report,
    serve,
    tagger,
    tokenizer,
    transfer,
    translate,
    vectors,
)
from xling.cli.common import console
from xling.errors import XlingError

app = typer.Typer(help="xling: cross-lingual language models.", no_args_is_help=True, add_completion=False)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"xling {version('xling')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print xling's version and exit."
        ),
    ] = False,
) -> None:
    """xling: cross-lingual language models."""


app.add_typer(tokenizer.app, name="tokenizer")
app.command()(pretrain.pretrain)
app.command("fill-mask")(pretrain.fill_mask)
app.command()(quickstart.quickstart)
app.command()(embed.embed)
app.add_typer(align.app, name="align")
app.command()(adapt.adapt)
app.add_typer(evaluate.app, name="eval")
app.command()(mine.mine)
app.add_typer(index.app, name="index")
app.add_typer(embed.app, name="export")
app.add_typer(vectors.app, name="vectors")
app.add_typer(transfer.app, name="transfer")
app.command()(transfer.classify)
app.add_typer(tagger.app, name="tagger")
app.command()(tagger.tag)
app.command()(translate.translate)
app.add_typer(mt.app, name="mt")
app.command()(langid.detect)
app.add_typer(langid.app, name="langid")
app.add_typer(bot.app, name="bot")
app.command()(serve.serve)
app.command()(report.report)


def main() -> None:
    """Entry point of the `xling` console script: user errors print one clear line and exit 2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from a hub at run time
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # rich draws xling's bars; HF's per-shard bars are noise
    show_library_logs()
    warnings.showwarning = _show_warning
    try:
        app()
    except XlingError as exc:
        # escape: a message may quote a recipe table such as [pretrain.data], which is not markup
        console.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(2)
    except (BrokenPipeError, ConnectionError):
        raise  # a reader gone (`| head`) or a network fault: not an answer about a place the user named
    except OSError as exc:
        # the machine's answer about a place (no permission, a full disk, a read-only place): one line too
        names = [str(name) for name in (exc.filename, exc.filename2) if name]
        where = f"{' -> '.join(names)}: " if names else ""
        console.print(f"[red]error:[/] {escape(where + (exc.strerror or str(exc)))}")
        sys.exit(2)
    finally:
        _leave_process_group()


class _PlainFormatter(logging.Formatter):
    """Info lines as they are, warnings and errors with their level in front (as the CLI's own errors)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is at the time of each record (tests swap it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def show_library_logs(level: int = logging.INFO) -> None:
    """Send what xling's library modules log (stages, resume, fallbacks) to stderr, one plain line each."""
    logger = logging.getLogger("xling")
    if any(getattr(handler, "xling_cli", False) for handler in logger.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(_PlainFormatter())
    handler.xling_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


_PYTHON_SHOWWARNING = warnings.showwarning
_XLING_SOURCE = str(Path(__file__).resolve().parents[1])


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning that xling's library raises (for its Python callers) as the CLI's one `warning:` line,
    not Python's two lines of path and source; others' warnings as Python prints them."""
    if str(Path(filename).resolve()).startswith(_XLING_SOURCE):
        logging.getLogger("xling").warning("%s", message)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


def _leave_process_group() -> None:
    """Destroy a torchrun process group this run joined: left to interpreter exit, gloo can abort."""
    dist = sys.modules.get("torch.distributed")  # only set if the command imported torch
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
