"""The `xling` command line: one module per verb group; each verb builds its config, calls the library, prints."""

from xling.cli.main import app, main

__all__ = ["app", "main"]
