"""A folder that behaves as a mount point (a Docker volume given as --output), for tests without one.

Imported by tests/transfer (`from .mounts import ...`) and tests/cli (by file path), so it depends on nothing
but the standard library.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any


def pretend_mount_point(monkeypatch: Any, folder: str | Path) -> None:
    """Make `folder` (which must exist) behave as a mount point until the test ends: os.path.ismount says
    so, and removing it (os.rmdir, so shutil.rmtree too, after it has deleted the contents, as on a real
    one) or renaming it, onto or away, fails with EBUSY. Its contents can be deleted and written as ever."""
    target = os.path.realpath(folder)
    real_ismount, real_rmdir, real_replace, real_rename = os.path.ismount, os.rmdir, os.replace, os.rename

    def is_it(path: Any, dir_fd: int | None) -> bool:
        return dir_fd is None and os.path.realpath(path) == target

    def busy(path: Any) -> None:
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(path))

    def ismount(path: Any) -> bool:
        return os.path.realpath(path) == target or real_ismount(path)

    def rmdir(path: Any, *, dir_fd: int | None = None) -> None:
        if is_it(path, dir_fd):
            busy(path)
        real_rmdir(path, dir_fd=dir_fd)

    def moving(real: Any) -> Any:
        def move(src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None) -> None:
            if is_it(src, src_dir_fd) or is_it(dst, dst_dir_fd):
                busy(src)
            real(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

        return move

    monkeypatch.setattr(os.path, "ismount", ismount)
    monkeypatch.setattr(os, "rmdir", rmdir)
    monkeypatch.setattr(os, "replace", moving(real_replace))
    monkeypatch.setattr(os, "rename", moving(real_rename))
