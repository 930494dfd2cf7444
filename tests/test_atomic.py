"""xling.atomic: what an atomic write does to the file it replaces (links, permissions) and to `.gz` names."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest

from xling.atomic import atomic_folder, atomic_write, atomic_writes, write_json_atomically
from xling.data.readers import decoded_lines, line_text
from xling.errors import XlingError


def _read_lines(path):
    return [line_text(line, path) for line in decoded_lines(path, None, allow_blank=True)]


def test_text_named_gz_is_written_gzipped_and_reads_back_with_xlings_readers(tmp_path):
    out = tmp_path / "o.txt.gz"
    with atomic_write(out) as handle:
        handle.write("ein Satz\nzweiter Satz\n")
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(out.read_bytes()) == b"ein Satz\nzweiter Satz\n"
    assert _read_lines(out) == ["ein Satz", "zweiter Satz"]
    first = out.read_bytes()
    with atomic_write(tmp_path / "other.TXT.GZ") as handle:  # another name, another process id: same bytes
        handle.write("ein Satz\nzweiter Satz\n")
    assert (tmp_path / "other.TXT.GZ").read_bytes() == first  # mtime 0, no file name in the header
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_binary_named_gz_is_written_as_given(tmp_path):
    # a caller writing bytes (vectors' own gzip) must not be compressed twice
    payload = gzip.compress(b"3 2\n", mtime=0)
    with atomic_write(tmp_path / "v.vec.gz", "wb") as handle:
        handle.write(payload)
    assert (tmp_path / "v.vec.gz").read_bytes() == payload
    with atomic_writes((tmp_path / "a.txt.gz", "w"), (tmp_path / "b.txt", "w")) as (a, b):
        a.write("a\n")
        b.write("b\n")
    assert gzip.decompress((tmp_path / "a.txt.gz").read_bytes()) == b"a\n"
    assert (tmp_path / "b.txt").read_text() == "b\n"


def test_a_failed_gz_write_leaves_the_old_file(tmp_path):
    out = tmp_path / "o.txt.gz"
    out.write_bytes(gzip.compress(b"old\n"))
    try:
        with atomic_write(out) as handle:
            handle.write("new\n")
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert gzip.decompress(out.read_bytes()) == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.txt.gz"]


def test_a_symlink_output_keeps_the_link_and_replaces_its_target(tmp_path):
    target = tmp_path / "data" / "real.txt"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with atomic_write(link) as handle:
        handle.write("new\n")
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_text() == "new\n"
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    # the name given decides the compression: xling reads the file by that name
    packed = tmp_path / "link.txt.gz"
    packed.symlink_to(target)
    with atomic_write(packed) as handle:
        handle.write("packed\n")
    assert packed.is_symlink() and _read_lines(packed) == ["packed"]


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    out = tmp_path / "keep.txt"
    out.write_text("old\n")
    out.chmod(0o444)
    with atomic_write(out) as handle:
        handle.write("new\n")
    assert out.read_text() == "new\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o444
    private = tmp_path / "private.json"
    private.write_text("{}")
    private.chmod(0o600)
    write_json_atomically(private, {"a": 1})
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_a_new_file_gets_the_umasks_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "new.txt") as handle:
            handle.write("x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644


def test_detect_output_named_gz_is_gzipped(tmp_path):
    from xling.langid.files import detect_file
    from xling.langid.model import Prediction

    class Fixed:
        def predict(self, texts, k=1, threshold=None, languages=None):
            return [[Prediction("deu", 0.9)] for _ in texts]

        def label_count(self, languages=None):
            return 1

    source = tmp_path / "in.txt"
    source.write_text("Hallo Welt\nGuten Tag\n", encoding="utf-8")
    out = tmp_path / "d.tsv.gz"
    detect_file(Fixed(), source, out)
    assert _read_lines(out) == ["deu\t0.9000", "deu\t0.9000"]


def test_two_names_of_one_file_are_refused_before_anything_is_written(tmp_path):
    """Both temporaries were the link target's: the second rename found none, after the first had replaced
    the file, so the set was half written."""
    import pytest

    from xling.errors import ConfigError

    target = tmp_path / "a.txt"
    target.write_text("old\n", encoding="utf-8")
    (tmp_path / "b.txt").symlink_to(target)
    with (
        pytest.raises(ConfigError, match="two of them are one file"),
        atomic_writes((target, "w"), (tmp_path / "b.txt", "w")) as (first, second),
    ):
        first.write("from a\n")
        second.write("from b\n")
    assert target.read_text(encoding="utf-8") == "old\n"


def test_a_linked_output_is_checked_where_its_target_lies(tmp_path, monkeypatch):
    """atomic_writes writes beside the link's target: a target folder that cannot be written is found before
    the work, not when the job's output is renamed into place."""
    import pytest

    from xling.atomic import writable_file
    from xling.errors import DataError

    (tmp_path / "locked").mkdir()
    target = tmp_path / "locked" / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "out.txt"
    link.symlink_to(target)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path / "locked" and real_access(p, mode))
    with pytest.raises(DataError, match="locked"):
        writable_file(link)


def test_two_threads_writing_one_file_at_once_each_get_their_own_temporary(tmp_path):
    """Two writes of one file in flight at once in one process (two index objects on one folder, each in its
    own thread) used one temporary `.NAME.PID.tmp`: their bytes interleaved and the second rename found no
    file (FileNotFoundError). Each now has its own; a lone write keeps the usual name."""
    import threading

    out = tmp_path / "cache.bin"
    both_open = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []
    names: list[str] = []

    def write(payload: bytes) -> None:
        try:
            with atomic_write(out, "wb") as handle:
                names.append(Path(handle.name).name)
                both_open.wait()  # both temporaries are open before either is renamed
                handle.write(payload)
                both_open.wait()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(bytes([n]) * 100_000,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(names)) == 2
    assert out.read_bytes() in (b"\x01" * 100_000, b"\x02" * 100_000)  # one write whole, not a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.bin"]
    with atomic_write(out, "wb") as handle:
        assert Path(handle.name).name == f".cache.bin.{os.getpid()}.tmp"
        handle.write(b"again")


def test_a_dash_is_no_file_to_read_or_write(tmp_path, monkeypatch):
    """`--output -` wrote a file named `-` in the working folder; `--input -` was "file not found"."""
    import pytest

    from xling.atomic import writable_file
    from xling.data.readers import require_file
    from xling.errors import DataError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"standard output \('-'\) is not written here"):
        writable_file("-")
    with pytest.raises(DataError, match=r"standard input \('-'\) is not read here"):
        require_file("-")
    assert list(tmp_path.iterdir()) == []


def test_a_name_whose_temporary_would_be_too_long_is_refused_before_the_work(tmp_path):
    """A 246-byte name is a valid file name, but `.NAME.PID.tmp` is not: the write failed after the work."""
    import pytest

    from xling.atomic import writable_file
    from xling.errors import DataError

    fits = tmp_path / ("x" * 200 + ".tsv")
    assert writable_file(fits) == fits
    with pytest.raises(DataError, match=r"file name is too long to be written safely \(at most \d+ bytes"):
        writable_file(tmp_path / ("x" * 246 + ".tsv"))


def test_a_folder_filled_while_a_new_one_was_made_is_kept_without_overwrite(tmp_path):
    """The target was checked only before the work, and the commit retired whatever was there by then: a
    folder another process made meanwhile (its files, its model) was silently replaced."""
    target = tmp_path / "out"
    appeared = r"out: a model \(or other files\) appeared there while this one was being made"
    with pytest.raises(XlingError, match=appeared), atomic_folder(target, what="model") as staging:
        (staging / "ours.txt").write_text("ours")
        target.mkdir()  # another process's save, committed first
        (target / "theirs.txt").write_text("theirs")
    assert [p.name for p in target.iterdir()] == ["theirs.txt"]
    assert (target / "theirs.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the new one discarded, no staging left
    with atomic_folder(tmp_path / "new") as staging:  # an empty folder made meanwhile is still taken
        (staging / "ours.txt").write_text("ours")
        (tmp_path / "new").mkdir()
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["ours.txt"]
    with atomic_folder(target, overwrite=True) as staging:  # overwrite replaces as before
        (staging / "ours.txt").write_text("ours")
    assert [p.name for p in target.iterdir()] == ["ours.txt"]


def test_a_retired_folder_left_by_an_earlier_process_of_this_id_does_not_stop_the_swap(tmp_path):
    """Container pids repeat: a `.NAME.PID.old` that a killed run of the same id left half-deleted made the
    rename onto it fail (not empty), and the new content was discarded."""
    import os

    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    left = tmp_path / f".model.{os.getpid()}.old"
    left.mkdir()
    (left / "half-deleted.txt").write_text("x")
    with atomic_folder(target, overwrite=True) as staging:
        (staging / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_link_to_a_folder_is_written_through(tmp_path, overwrite):
    """An output that is a link to a folder elsewhere (a bigger disk): the new folder goes there and the link
    stays (without overwrite the rename onto the link failed with ENOTDIR after all the work; with it the
    link was replaced by a folder and a dangling link left beside it)."""
    real = tmp_path / "disk" / "idx"
    real.mkdir(parents=True)
    if overwrite:
        (real / "old.txt").write_text("old")
    link = tmp_path / "idx"
    link.symlink_to(real, target_is_directory=True)
    with atomic_folder(link, overwrite=overwrite) as staging:
        (staging / "new.txt").write_text("new")
    assert link.is_symlink() and [p.name for p in real.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "idx"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["idx"]


def test_a_pipe_or_a_device_is_not_replaced_by_a_regular_file(tmp_path):
    """os.replace put a regular file where a FIFO was (as root, `--output /dev/null` would replace the
    system's /dev/null), and /dev/stdout through a pipe failed only at the rename, after the work."""
    from xling.atomic import writable_file
    from xling.errors import DataError

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "to-fifo"
    link.symlink_to(fifo)
    for path in (fifo, link, Path("/dev/null")):
        with pytest.raises(DataError, match="is not a regular file"):
            writable_file(path)
        with pytest.raises(DataError, match="is not a regular file"), atomic_write(path) as handle:
            handle.write("text")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "to-fifo"]  # no temporary left


def test_a_folder_name_whose_staging_would_be_too_long_is_refused_before_the_work(tmp_path):
    """A 250-byte folder name is valid, but `.NAME.PID.tmp` beside it is not: `langid train` trained, then
    failed with "File name too long"."""
    from xling.atomic import check_folder_place
    from xling.errors import DataError

    check_folder_place(tmp_path / ("q" * 200))
    check_folder_place("/")  # no name to stage beside: was a ValueError traceback
    with pytest.raises(DataError, match=r"folder name is too long to be written safely"):
        check_folder_place(tmp_path / ("q" * 250))
    with pytest.raises(DataError, match=r"folder name is too long"), atomic_folder(tmp_path / ("q" * 250)):
        raise AssertionError("the work must not start")


def test_a_killed_runs_staging_beside_the_output_is_named_not_deleted(tmp_path, caplog):
    """A killed `tokenizer train` left `.tok.PID.tmp` (18 MB of sampled text) beside its output, and a rerun,
    another process, neither removed nor mentioned it. It may be another machine's run on a shared file
    system, so it is named, not deleted."""
    import logging

    (tmp_path / ".tok.2147480000.tmp").mkdir()
    (tmp_path / ".tok.2147480000.tmp" / "sample.txt").write_text("x", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="xling.atomic"), atomic_folder(tmp_path / "tok") as staging:
        (staging / "f").write_text("new", encoding="utf-8")
    assert any(".tok.2147480000.tmp" in record.getMessage() for record in caplog.records), caplog.text
    assert (tmp_path / ".tok.2147480000.tmp" / "sample.txt").is_file() and (tmp_path / "tok" / "f").is_file()
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="xling.atomic"),
        atomic_folder(tmp_path / "other") as staging,
    ):
        (staging / "f").write_text("new", encoding="utf-8")
    assert not caplog.records  # another output's leftovers are not this one's


@pytest.mark.skipif(not os.path.ismount("/proc"), reason="needs a mount point: /proc on Linux")
def test_a_mount_point_is_refused_before_the_work():
    """Renaming onto or away from a mount point (a Docker volume as the output) is EBUSY: the folder was
    refused with a raw OSError after the work, the result deleted."""
    from xling.atomic import check_replaceable

    for overwrite in (False, True):
        with pytest.raises(XlingError, match="/proc: a mount point"):
            check_replaceable("/proc", overwrite, "model")
    # a save into the folder (save_model_folder) renames entries inside it, which a mount point takes
    with pytest.raises(XlingError, match="/proc: holds files"):
        check_replaceable("/proc", True, "model", kind="x", renamed=False)


@pytest.mark.skipif(not os.path.ismount("/proc"), reason="needs a mount point: /proc on Linux")
def test_a_link_to_a_mount_point_is_refused_too(tmp_path):
    from xling.atomic import check_replaceable

    (tmp_path / "out").symlink_to("/proc")  # written through, so renamed onto /proc itself
    with pytest.raises(XlingError, match="a mount point"):
        check_replaceable(tmp_path / "out", True, "model")


def test_a_write_that_fails_without_naming_a_file_names_the_output(tmp_path):
    """A full disk's OSError names no file, and the command line printed only "No space left on device"."""
    import errno

    from xling.atomic import atomic_write, atomic_writes

    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(OSError) as raised, atomic_write(target) as handle:
        handle.write("new")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.filename == str(target) and target.read_text(encoding="utf-8") == "old"
    with (
        pytest.raises(OSError) as raised,
        atomic_writes((tmp_path / "a.txt", "w"), (tmp_path / "b.txt", "w")),
    ):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.filename == f"{tmp_path / 'a.txt'} or {tmp_path / 'b.txt'}"
    with pytest.raises(OSError) as raised, atomic_write(target):  # one that names its file keeps it
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "elsewhere.txt")
    assert raised.value.filename == "elsewhere.txt"
