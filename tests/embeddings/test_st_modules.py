"""read_st_modules: a sentence-transformers folder's modules.json as a list of entries, or a DataError naming it."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from xling.embeddings.st_modules import NOT_MODULES, STModule, read_st_modules
from xling.errors import DataError

MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Dense/", "type": "sentence_transformers.models.Dense"},
    {"idx": 3, "name": "3", "path": "3_Normalize"},
]
NOT_A_LIST = "not a sentence-transformers modules list (a JSON list of objects)"
OUTSIDE = "a module path leads outside the folder"


def write_modules(folder: Path, content: object) -> Path:
    """Write `content` (bytes or a string as it is, anything else as JSON) to folder/modules.json; return its
    path."""
    path = folder / "modules.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_a_folder_s_modules_come_back_in_order(tmp_path):
    write_modules(tmp_path, MODULES)
    modules = read_st_modules(tmp_path)
    assert modules == [
        STModule("Transformer", PurePosixPath("."), "sentence_transformers.models.Transformer"),
        STModule("Pooling", PurePosixPath("1_Pooling"), "sentence_transformers.models.Pooling"),
        STModule("Dense", PurePosixPath("2_Dense"), "sentence_transformers.models.Dense"),
        STModule("", PurePosixPath("3_Normalize"), ""),  # an entry without a type names none
    ]
    assert read_st_modules(str(tmp_path)) == modules  # a folder given as a string
    with pytest.raises(AttributeError):  # frozen
        modules[0].kind = "Dense"


def test_an_empty_list_is_returned_as_it_is(tmp_path):
    write_modules(tmp_path, [])
    assert read_st_modules(tmp_path) == []


def test_a_folder_without_modules_json_has_none(tmp_path):
    assert read_st_modules(tmp_path) is None
    (tmp_path / "modules.json").mkdir()  # not a file either
    assert read_st_modules(tmp_path) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"type": ', "not valid JSON"),
        (b'[{"path": "\xff"}]', "not UTF-8 text"),
        ({"0": MODULES[0]}, NOT_A_LIST),
        ('"0_Transformer"', NOT_A_LIST),
        ([MODULES[0], "1_Pooling"], NOT_A_LIST),
        ([MODULES[0], {**MODULES[1], "path": "/tmp/1_Pooling"}], OUTSIDE),
        ([MODULES[0], {**MODULES[1], "path": "../other/1_Pooling"}], OUTSIDE),
        ([MODULES[0], {**MODULES[1], "path": "1_Pooling/../.."}], OUTSIDE),
    ],
    ids=["bad-json", "not-utf8", "object", "string", "entry-string", "absolute", "dot-dot", "dot-dot-deep"],
)
def test_a_damaged_modules_json_is_a_data_error_naming_the_file(tmp_path, content, message):
    path = write_modules(tmp_path, content)
    with pytest.raises(DataError) as error:
        read_st_modules(tmp_path)
    assert error.value.path == str(path)
    assert str(error.value).startswith(f"{path}:") and message in str(error.value)


def test_required_makes_a_missing_or_empty_list_a_data_error_naming_the_file(tmp_path):
    path = tmp_path / "modules.json"
    for setup in (lambda: None, lambda: write_modules(tmp_path, [])):
        setup()
        with pytest.raises(DataError) as error:
            read_st_modules(tmp_path, required=True)
        assert error.value.path == str(path)
        assert str(error.value) == f"{path}: {NOT_MODULES}"
    write_modules(tmp_path, MODULES[:1])
    assert read_st_modules(tmp_path, required=True) == [
        STModule("Transformer", PurePosixPath("."), "sentence_transformers.models.Transformer")
    ]
    write_modules(tmp_path, "[1]")  # a damaged list is the same error with or without required
    with pytest.raises(DataError, match="a JSON list of objects"):
        read_st_modules(tmp_path, required=True)
