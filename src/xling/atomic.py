"""Atomic file writes: a file is replaced only once its new content is complete on disk."""

from __future__ import annotations

import glob
import gzip
import io
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from xling.errors import ConfigError, DataError, XlingError

logger = logging.getLogger(__name__)
OVERWRITE_HINT = "pass overwrite (--overwrite on the command line) to replace it"
# the temporary files this process's atomic writes hold open now: two writes of one file at once (two
# objects on one index folder, each in its own thread) must not share one, or their bytes interleave and
# the first rename takes the other's file away
_TEMPORARIES_IN_USE: set[Path] = set()
# the longest file name most file systems take (ext4, XFS, APFS; NAME_MAX): a temporary adds to the name
_NAME_MAX = 255
_TEMPORARIES_LOCK = threading.Lock()


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Return a context whose handle writes a temporary file next to `path`, renamed over it on success.

    A crash or an exception leaves `path` as it was (an earlier good file survives) and no temporary behind.
    """
    with atomic_writes((path, mode)) as (handle,):
        yield handle


@contextmanager
def atomic_writes(*targets: tuple[str | Path, str]) -> Iterator[list[IO[Any]]]:
    """Return a context whose handles (one per (path, mode)) write temporary files, renamed over their paths
    only once every one of them is complete on disk, so files that belong together (a matrix and its
    vocabulary) are never left half old and half new by an exception; only a kill between two renames can.

    A symlink given as a path is followed: its target gets the new content and the link stays. A file that
    is replaced keeps its permissions. A text handle (no "b" in the mode) of a name ending in `.gz` writes
    gzip (mtime 0: the same text gives the same bytes), as xling's readers expect of that name.
    """
    for given, _ in targets:
        _check_replaceable_kind(given)
    # the target, not the link: os.replace would put a regular file in the link's place
    paths = [Path(os.path.realpath(path)) for path, _ in targets]
    if len(set(paths)) < len(paths):  # two names of one file: its second rename would find no temporary
        shown = ", ".join(str(path) for path, _ in targets)
        raise ConfigError(
            f"outputs {shown}: two of them are one file (a link); give each output its own file"
        )
    temporaries = [claim_temporary(path) for path in paths]
    try:
        with _naming(paths), ExitStack() as stack:
            handles, raws = [], []
            for path, temporary, (given, mode) in zip(paths, temporaries, targets, strict=True):
                path.parent.mkdir(parents=True, exist_ok=True)
                # the name given decides, not a link's target: readers open the file by that name
                handle, raw = _open_temporary(stack, temporary, mode, Path(given).name)
                handles.append(handle)
                raws.append(raw)
            yield handles
            for handle, raw in zip(handles, raws, strict=True):
                if handle is not raw:
                    handle.close()  # writes the gzip trailer; the raw file stays open
                raw.flush()
                os.fsync(raw.fileno())
        for temporary, path in zip(temporaries, paths, strict=True):
            if path.exists():
                shutil.copymode(path, temporary)  # a read-only (0444) or private (0600) file stays so
            os.replace(temporary, path)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        release_temporaries(temporaries)


def _check_replaceable_kind(path: str | Path) -> None:
    """Return nothing if `path` (its link's target) is missing, a folder or a regular file; else DataError:
    a device, a pipe or a socket would be replaced by a regular file (`--output /dev/null` as root takes
    the system's /dev/null), and /dev/stdout fails only at the rename, after the work."""
    with suppress(OSError):
        if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
            raise DataError("is not a regular file (a device, a pipe or a socket): its content cannot be "
                            "replaced atomically; give a regular file to write to", Path(path))  # fmt: skip


def claim_temporary(path: Path) -> Path:
    """Return a temporary name beside `path` that no other write in flight in this process uses, claimed
    until release_temporaries: `.NAME.PID.tmp`, or `.NAME.PID.N.tmp` (N = 1, 2, ...) while another thread
    writes `path` too. The process id keeps processes apart; the same folder keeps the rename atomic."""
    with _TEMPORARIES_LOCK:
        n = 0
        while (temporary := _temporary_name(path, n)) in _TEMPORARIES_IN_USE:
            n += 1
        _TEMPORARIES_IN_USE.add(temporary)
        return temporary


def _temporary_name(path: Path, n: int) -> Path:
    """Return the `n`th temporary name of `path` in this process: `.NAME.PID.tmp`, then `.NAME.PID.N.tmp`."""
    # N only when needed: the usual name stays `.NAME.PID.tmp`, which cleanups and tests look for
    return path.with_name(f".{path.name}.{os.getpid()}{f'.{n}' if n else ''}.tmp")


_STAGING_NAME = re.compile(r"\A\..+\.\d+(\.\d+)?\.(tmp|old)\Z")


def is_staging_name(name: str) -> bool:
    """Return whether `name` is one of the temporary names xling's atomic writes stage under
    (`.NAME.PID.tmp`, `.NAME.PID.N.tmp`, a replaced folder's `.NAME.PID.old`)."""
    return _STAGING_NAME.match(name) is not None


def warn_of_leftovers(path: Path, staging: Path) -> None:
    """Return nothing after logging a warning naming the staging folders of `path` that another process left
    beside it (a killed run's `.NAME.PID.tmp`, 18 MB of sampled text for a tokenizer): a run of another
    process id never reuses them. Not deleted here: on a shared file system the process may be another
    machine's, still writing."""
    try:
        leftovers = sorted(
            sibling.name for sibling in path.parent.glob(f".{glob.escape(path.name)}.*")
            if sibling != staging and sibling not in _TEMPORARIES_IN_USE and is_staging_name(sibling.name)
            and sibling.is_dir()
        )  # fmt: skip
    except OSError:
        return
    if leftovers:
        logger.warning("%s: %s beside it %s left by an earlier run that did not finish; delete %s if no run is "
                       "writing %s now", path, shown_names(leftovers), "was" if len(leftovers) == 1 else "were",
                       "it" if len(leftovers) == 1 else "them", path.name)  # fmt: skip


def release_temporaries(temporaries: list[Path]) -> None:
    """Return nothing after handing `temporaries` back for other writes to use."""
    with _TEMPORARIES_LOCK:
        _TEMPORARIES_IN_USE.difference_update(temporaries)


def _open_temporary(stack: ExitStack, temporary: Path, mode: str, name: str) -> tuple[IO[Any], IO[Any]]:
    """Return (the handle to write, the raw file under it) of a temporary file opened in `mode`: the same
    handle twice, except for text bound for a file `name`d `.gz`, which goes through gzip to the raw file."""
    text = "b" not in mode
    compress = text and name.lower().endswith(".gz")
    options = {"encoding": "utf-8", "newline": "\n"} if text and not compress else {}
    raw_mode = mode.replace("t", "") + "b" if compress else mode
    raw = stack.enter_context(open(temporary, raw_mode, **options))  # noqa: SIM115 - the stack closes it
    if not compress:
        return raw, raw
    # filename "": the header would otherwise name the temporary file, whose name holds the process id
    gz = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0)
    handle = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
    stack.callback(_discard, handle)  # before the raw file closes (last in, first out)
    return handle, raw


def _discard(handle: IO[Any]) -> None:
    """Return nothing after closing `handle` (again) on the way out, an error left unraised: on success it
    is closed already, and on failure its file is deleted, so an error closing it (a full disk) would only
    hide the error that ended the write."""
    with suppress(OSError, ValueError):
        handle.close()


@contextmanager
def _naming(paths: Sequence[Path]) -> Iterator[None]:
    """Return a context that names `paths` in an OSError that names no file: a write, flush or fsync that
    fails (a full disk) says only "No space left on device", and the command line shows what it names."""
    try:
        yield
    except OSError as error:
        if error.filename is None:
            error.filename = " or ".join(str(path) for path in paths)  # the writes of several: any of them
        raise


def writable_file(path: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Return `path` as a Path after checking that a file can be written there, so a long job fails before
    its work, not after (DataError naming it: a folder, a parent that is a file, no permission), and that it
    is none of the job's `inputs` (ConfigError: writing the output would replace what it is made from)."""
    if str(path) == "-":  # else a file named `-` in the working folder, reported as written
        raise DataError("standard output ('-') is not written here: give the output as a file", Path(path))
    path = Path(path)
    target = Path(os.path.realpath(path))
    extra = len(_temporary_name(target, 99).name.encode()) - len(target.name.encode())
    if len(target.name.encode()) + extra > _NAME_MAX:  # the name fits, not the temporary written first
        raise DataError(f"the file name is too long to be written safely (at most {_NAME_MAX - extra} bytes "
                        "here, for its temporary); choose a shorter name", path)  # fmt: skip
    for given in inputs:
        if same_path(path, given):
            raise ConfigError(f"output: {path} is also an input file; writing the output would replace it: "
                              "choose another output file")  # fmt: skip
    if path.is_dir():
        raise DataError("is a folder; give a file to write to", path)
    _check_replaceable_kind(path)
    # where the file will be written (`target`): a link's target (atomic_writes follows it, its temporary
    # goes there)
    parent = next((p for p in (target.parent, *target.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise DataError(f"{parent} is a file, so no folder can be made there for the output", path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write into {parent} (permission denied)", path)
    return path


def shown_names(names: Sequence[str], limit: int = 5) -> str:
    """Return the first `limit` of `names` comma-separated, with ", ..." when there are more (for errors)."""
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def remove_entry(path: Path) -> None:
    """Return nothing after deleting `path`: a folder with its content, or a file or link (a link to a folder
    is removed, not the folder it points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def same_path(a: str | Path, b: str | Path) -> bool:
    """Return whether two paths name one file or folder: when both exist, one inode (so a hard link to a
    file counts too), else the same path once resolved (`..`, symlinks)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_apart(
    output: str | Path,
    inputs: Iterable[tuple[str, str | Path]],
    advice: str = "choose another output folder",
    *,
    nesting_ok: bool = False,
) -> None:
    """Return nothing if `output` is none of `inputs`, lies inside none of them and contains none of them;
    else raise ConfigError naming both: `output: OUT is|lies inside|contains LABEL; why: advice`.

    With `nesting_ok` only the same path is refused: for commands that write their own files into the
    output folder and never replace it whole (recipes keep a run's tokenizer inside the run's folder).

    `inputs` pairs how the message names an input ("the tokenizer folder tok") with its path. Paths are
    compared with `~` expanded and resolved (same_path). Each relation puts the input at risk: the output is
    written over it (the same path) or into it (output inside it), or an output folder that is written
    into or replaced (`overwrite`) takes it along (input inside output). Call it before
    `check_replaceable`, so that the message names the input rather than an output that merely exists.
    """
    out = Path(output).expanduser()
    for label, given in inputs:
        path = Path(given).expanduser()
        if same_path(out, path):
            relation, why = "is", "the output would be written over it"
        elif nesting_ok:
            continue
        elif path.resolve() in out.resolve().parents:
            relation, why = "lies inside", "the output would be written into it"
        elif out.resolve() in path.resolve().parents:
            relation, why = "contains", "writing or replacing the output folder could overwrite or delete it"
        else:
            continue
        raise ConfigError(f"output: {output} {relation} {label}; {why}: {advice}")


def write_json_atomically(
    path: str | Path, payload: Any, default: Callable[[Any], Any] | None = None
) -> None:
    """Write `payload` as indented UTF-8 JSON to `path` atomically. `default` is json's, for values it cannot
    write itself (without one such a value raises TypeError and `path` stays as it was)."""
    with atomic_write(path) as handle:
        handle.write(json.dumps(payload, indent=2, ensure_ascii=False, default=default))


def save_keyed_array(path: str | Path, key_path: str | Path, array: Any, key: Any) -> None:
    """Return nothing after saving `array` as .npy at `path` and its cache `key` as JSON at `key_path`.

    The old key goes first and the new one comes last, each file written whole and renamed into place: a
    crash at any point leaves either both new files or a table without a key (made again), never an old key
    that vouches for a new table. Processes writing at once (DDP ranks) each use their own temporary file.
    """
    import numpy as np

    path, key_path = Path(path), Path(key_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key_path.unlink(missing_ok=True)
    temporary = claim_temporary(path)  # its own name per thread as well as per process
    try:
        with temporary.open("wb") as handle:  # a handle: np.save would add .npy to the name
            np.save(handle, array)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the key vouches for it
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # a failed save (a full disk) leaves no partial table behind
        release_temporaries([temporary])
    write_json_atomically(key_path, key)


def check_replaceable(
    folder: str | Path,
    overwrite: bool,
    what: str = "folder",
    kind: str | None = None,
    *,
    renamed: bool = True,
) -> None:
    """Return nothing if `folder` may be written: missing, empty, or `overwrite` (and, with `kind`, holding
    an xling.json of that kind or of that family, `classifier` for `classifier/frozen`: overwrite replaces a
    model, not a folder of someone's files); else raise XlingError. `renamed`: the folder is replaced whole
    by a rename (atomic_folder), which a mount point cannot be; False for a save into it (save_model_folder)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise XlingError(f"{path}: a file is there, not a {what} folder")
    check_folder_place(path)
    if Path(os.path.abspath(path)) in (Path.cwd(), *Path.cwd().parents):
        raise XlingError(
            f"{path}: the current folder (or one above it) cannot be replaced; name a new folder"
        )
    # a Docker volume (or a link to one, written through): renaming onto or away from it is EBUSY
    if renamed and path.is_dir() and os.path.ismount(os.path.realpath(path)):
        raise XlingError(f"{path}: a mount point, which a {what} replaced whole by renaming cannot be (the work "
                         "would be lost at the end); name a folder inside it")  # fmt: skip
    if not path.is_dir() or not any(path.iterdir()):
        return
    if kind is not None:
        from xling.artifacts import METADATA_FILE

        found = recorded_kind(path / METADATA_FILE)
        if found != kind and not (found or "").startswith(f"{kind}/"):  # a family: classifier/frozen
            held = f"a {found!r} folder" if found else "files that are not a " + what
            if not overwrite:
                # a killed training run's checkpoints are not a model yet: a command that resumes says so
                raise XlingError(f"{path}: holds {held}; choose another output folder (or resume the run "
                                 "whose checkpoints are there, where the command can)")  # fmt: skip
            raise XlingError(f"{path}: holds {held}; overwrite replaces only a {what}, so nothing was "
                             "deleted: choose another output folder")  # fmt: skip
    if not overwrite:
        raise XlingError(f"{path}: a {what} is already there; {OVERWRITE_HINT}")


def check_folder_place(folder: str | Path) -> None:
    """Return nothing if an output `folder` can be made: the nearest existing path at or above it is a
    folder; else raise DataError naming the file in the way (mkdir would fail there only after the work)."""
    path = Path(os.path.abspath(Path(folder).expanduser()))
    above = next((p for p in (path, *path.parents) if p.exists()), None)
    if above is not None and not above.is_dir():
        raise DataError(f"{above} is a file, so no folder can be made there for the output", folder)
    # the folder is staged as `.NAME.PID.tmp` beside it (and an earlier one set aside as `.NAME.PID.old`, or
    # adapt's `.NAME.replaced`): a name that fits alone failed with "File name too long" after the work
    if not path.name:  # `/`: no name to stage beside (what may not be replaced is the caller's to say)
        return
    extra = len(_temporary_name(path, 99).name.encode()) - len(path.name.encode())
    if len(path.name.encode()) + extra > _NAME_MAX:
        raise DataError(f"the folder name is too long to be written safely (at most {_NAME_MAX - extra} bytes "
                        "here, for the temporary folder beside it); choose a shorter name", folder)  # fmt: skip


def recorded_kind(metadata: Path) -> str | None:
    """Return the `kind` an xling.json records (None when there is no readable one)."""
    try:
        kind = json.loads(metadata.read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


@contextmanager
def atomic_folder(folder: str | Path, *, overwrite: bool = False, what: str = "folder",
                  kind: str | None = None) -> Iterator[Path]:  # fmt: skip
    """Return a context whose value is a temporary folder next to `folder`, swapped in for it on success.

    A non-empty `folder` is an error unless `overwrite` (and, with `kind`, unless it holds an xling.json of
    that kind: check_replaceable). The old folder stays whole until the new one is complete; an exception
    leaves it as it was (and at worst a hidden `.name.PID.tmp` beside it), and so does a crash, except one
    between the two renames of the swap: then `folder` is missing and its old content is in the hidden
    `.name.PID.old` beside it (the new one in `.name.PID.tmp`). Without `overwrite`, a `folder` that
    another process filled while the new one was made is kept and the new one discarded (XlingError naming
    it): the check before the work cannot see what comes after it.
    """
    path = Path(folder)
    check_replaceable(path, overwrite, what, kind)
    # `out/..` or a trailing `.` has no name to put the staging beside; a link to a folder is written through
    # (renaming onto the link failed with ENOTDIR, or replaced the link and left it dangling beside)
    path = Path(os.path.realpath(path)) if path.is_symlink() else Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    # a name no other save in flight in this process uses: two threads saving one folder at once each
    # stage their own (a shared one was deleted under the first by the second's clean start)
    staging = claim_temporary(path)
    retired = staging.with_suffix(".old")
    warn_of_leftovers(path, staging)
    try:
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed process that had this id
        staging.mkdir()
        yield staging
        if not overwrite:
            _move_in(staging, path, what)
            return
        # two renames: between them `folder` is briefly absent, but the old content is never lost
        if path.exists():
            # an earlier process of this id (a container's pids repeat) killed while deleting its retired
            # folder left it: no process alive has this id to be writing it, and renaming onto it failed
            # (not empty), discarding the new content
            shutil.rmtree(retired, ignore_errors=True)
            path.rename(retired)
        try:
            staging.rename(path)
        except BaseException:
            if retired.exists() and not path.exists():
                retired.rename(path)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        release_temporaries([staging])


def _move_in(staging: Path, path: Path, what: str) -> None:
    """Return nothing after renaming `staging` to `path`, which may be missing or an empty folder; raise
    XlingError, `path` left as it is, when something else is there now (put there during the work)."""
    try:
        # one rename, no retiring first: rename(2) takes the place of a missing or empty folder but never
        # of a non-empty one or a file, so nothing that appears meanwhile can be replaced
        staging.rename(path)
        return
    except OSError as error:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise XlingError(f"{path}: a {what} (or other files) appeared there while this one was being made; "
                             f"it was kept and the new {what} discarded; {OVERWRITE_HINT}") from None  # fmt: skip
        if not (isinstance(error, FileExistsError) and path.is_dir()):
            raise  # not about what is there (permissions, another file system)
    path.rmdir()  # an empty folder that this system's rename will not replace (Windows)
    staging.rename(path)
