import json
from pathlib import Path

import pytest

from xling.artifacts import METADATA_FILE, has_metadata, read_metadata, update_metadata, write_metadata
from xling.atomic import atomic_folder, check_apart, same_path, save_keyed_array
from xling.errors import ConfigError, XlingError


def test_metadata_round_trip_in_one_file(tmp_path):
    assert read_metadata(tmp_path) == {} and not has_metadata(tmp_path)
    path = write_metadata(tmp_path, {"kind": "tokenizer", "languages": ["eng", "deu"]})
    assert path == tmp_path / METADATA_FILE == tmp_path / "xling.json"
    assert read_metadata(tmp_path) == {"kind": "tokenizer", "languages": ["eng", "deu"]}
    assert update_metadata(tmp_path, scores={"x": 1})["kind"] == "tokenizer"
    assert json.loads(path.read_text())["scores"] == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xling.json"]  # no temporary left behind


def test_legacy_tokenizer_file_is_read_and_xling_json_wins(tmp_path):
    (tmp_path / "xling_tokenizer.json").write_text('{"languages": ["eng"]}')
    assert read_metadata(tmp_path) == {"languages": ["eng"]} and has_metadata(tmp_path)
    write_metadata(tmp_path, {"languages": ["deu"]})
    assert read_metadata(tmp_path) == {"languages": ["deu"]}


@pytest.mark.parametrize("content", ['{"kind": "tokenizer",\n  oops}', "[1, 2]"])
def test_bad_metadata_is_an_error_naming_the_file(tmp_path, content):
    (tmp_path / "xling.json").write_text(content)
    with pytest.raises(XlingError, match=r"xling\.json"):
        read_metadata(tmp_path)


def test_atomic_folder_keeps_the_old_folder_until_the_new_one_is_complete(tmp_path):
    target = tmp_path / "out"
    with atomic_folder(target) as staging:
        (staging / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"
    with pytest.raises(XlingError, match="already there.*--overwrite"), atomic_folder(target):
        pass
    with pytest.raises(RuntimeError), atomic_folder(target, overwrite=True) as staging:
        (staging / "a.txt").write_text("second")
        raise RuntimeError("crash mid-way")
    assert (target / "a.txt").read_text() == "first"
    with atomic_folder(target, overwrite=True) as staging:
        (staging / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_two_threads_saving_one_folder_at_once_each_keep_their_own_staging(tmp_path):
    import threading

    target, first_inside, second_done = tmp_path / "out", threading.Event(), threading.Event()
    errors = []

    def first():
        try:
            with atomic_folder(target, overwrite=True) as staging:
                (staging / "a.txt").write_text("first")
                first_inside.set()
                second_done.wait(10)  # the other save starts and ends while this one is half written
                assert (staging / "a.txt").read_text() == "first"
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)

    thread = threading.Thread(target=first)
    thread.start()
    first_inside.wait(10)
    with atomic_folder(target, overwrite=True) as staging:
        (staging / "b.txt").write_text("second")
    second_done.set()
    thread.join(10)
    assert errors == []
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]  # the last save to finish wins, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_keyed_array_never_leaves_an_old_key_beside_a_new_table(tmp_path, monkeypatch):
    import numpy as np

    table, key = tmp_path / "t.npy", tmp_path / "t.json"
    save_keyed_array(table, key, np.zeros(3), {"v": 1})
    assert json.loads(key.read_text()) == {"v": 1} and np.load(table).tolist() == [0, 0, 0]

    def killed(file, *args, **kwargs):  # the process dies while the new table is written, half of it there
        if hasattr(file, "write"):
            file.write(b"partial")
        else:
            Path(file).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_keyed_array(table, key, np.ones(3), {"v": 2})
    assert not key.exists()  # no key: the reader makes the table again rather than trust it
    assert np.load(table).tolist() == [0, 0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npy"]  # no partial temporary table left behind
    monkeypatch.undo()
    save_keyed_array(table, key, np.ones(3), {"v": 2})
    assert json.loads(key.read_text()) == {"v": 2} and np.load(table).tolist() == [1, 1, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.npy"]


def test_the_current_folder_is_never_replaced_and_overwrite_keeps_foreign_files(tmp_path, monkeypatch):
    from xling.atomic import atomic_folder

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    for folder in (".", tmp_path, "sub/.."):
        with pytest.raises(XlingError, match="current folder"), atomic_folder(folder, overwrite=True):
            pass
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.txt").write_text("mine", encoding="utf-8")
    with (
        pytest.raises(XlingError, match="nothing was deleted"),
        atomic_folder(other, overwrite=True, kind="x"),
    ):
        pass
    assert (other / "thesis.txt").read_text(encoding="utf-8") == "mine"


# --- check_apart: an output may never be, lie inside or hold one of its inputs ---


@pytest.mark.parametrize(
    ("output", "given", "relation"),
    [
        ("corpus", "corpus", "is"),
        ("sub/../corpus", "corpus", "is"),  # compared resolved
        ("corpus/tok", "corpus", "lies inside"),  # written into the input
        ("corpus/a/b", "corpus", "lies inside"),
        ("project", "project/corpus", "contains"),  # deleted with an output folder that overwrite replaces
        ("project", "project/corpus/eng.tsv", "contains"),
    ],
)
def test_check_apart_refuses_an_output_that_is_inside_or_around_an_input(tmp_path, output, given, relation):
    (tmp_path / "sub").mkdir()
    with pytest.raises(ConfigError) as refused:
        check_apart(tmp_path / output, [("the corpus folder X", tmp_path / given)], "go elsewhere")
    message = str(refused.value)
    assert message.startswith(f"output: {tmp_path / output} {relation} the corpus folder X; ")
    assert message.endswith(": go elsewhere")


def test_check_apart_passes_unrelated_paths_and_names_the_input_it_touches(tmp_path):
    inputs = [("the tokenizer folder", tmp_path / "tok"), ("the corpus", tmp_path / "corpus")]
    for output in ("out", "tok2", "corpus-tok", "runs/tok"):  # siblings, a name that only starts alike
        check_apart(tmp_path / output, inputs)
    check_apart(tmp_path / "out", [])
    with pytest.raises(ConfigError, match="lies inside the corpus; .*: choose another output folder$"):
        check_apart(tmp_path / "corpus" / "out", inputs)


def test_check_apart_sees_through_symlinks_and_hard_links(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "corpus")
    with pytest.raises(ConfigError, match="is the corpus"):
        check_apart(tmp_path / "link", [("the corpus", tmp_path / "corpus")])
    with pytest.raises(ConfigError, match="lies inside the corpus"):
        check_apart(tmp_path / "link" / "tok", [("the corpus", tmp_path / "corpus")])
    (tmp_path / "a.vec").write_text("1 1\na 1\n", encoding="utf-8")
    (tmp_path / "b.vec").hardlink_to(tmp_path / "a.vec")
    assert same_path(tmp_path / "b.vec", tmp_path / "a.vec")
    assert not same_path(tmp_path / "c.vec", tmp_path / "a.vec")
    with pytest.raises(ConfigError, match="is the input"):
        check_apart(tmp_path / "b.vec", [("the input", tmp_path / "a.vec")])
