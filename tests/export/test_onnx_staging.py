"""ONNX export: built beside the folder's onnx/ and moved in once checked; a failed re-export keeps the old one."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from st_folders import tiny_st_folder

from xling.atomic import is_staging_name
from xling.embeddings.encoder import Encoder
from xling.errors import XlingError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TEXTS = [
    "The cat sits on the mat.",
    "Die Katze sitzt auf der Matte.",
    "Le chat est assis sur le tapis.",
    "Where is the train station?",
    "Wo ist der Bahnhof?",
    "It is raining again today.",
]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Return {relative path: the bytes of a file, None for a folder} of everything under `folder` (a failed
    swap that left an empty folder behind differs too)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
            for path in sorted(folder.rglob("*"))}  # fmt: skip


def staging_leftovers(folder: Path) -> list[str]:
    return [path.name for path in folder.rglob("*") if is_staging_name(path.name)]


def vectors(folder: Path, backend: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Encoder.load(folder, backend=backend).encode(TEXTS)


def reuse_graph(monkeypatch, graph: Path) -> None:
    """Make later exports write `graph` (this model's) instead of tracing the model again (seconds each)."""
    data = graph.read_bytes()

    def written(module, path, opset):
        path.write_bytes(data)
        return "dynamo"

    monkeypatch.setattr("xling.export.onnx._export_graph", written)


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, sample_tokenizer_dir):
    """(the model folder, a good fp32 + int8 export of it made elsewhere)."""
    from xling.export.onnx import export_onnx

    root = tmp_path_factory.mktemp("onnx-staging")
    source = tiny_st_folder(root, sample_tokenizer_dir, layers=1, normalize=False)
    export_onnx(source, root / "exported", int8=True, sentences=TEXTS)
    return source, root / "exported"


def fail_exporter(monkeypatch, graph: Path) -> type[BaseException]:
    def broken(module, path, opset):
        path.write_bytes(b"half a graph")  # what an exporter that dies midway leaves
        raise XlingError("ONNX export failed with both exporters")

    monkeypatch.setattr("xling.export.onnx._export_graph", broken)
    return XlingError


def fail_optimizer(monkeypatch, graph: Path) -> type[BaseException]:
    reuse_graph(monkeypatch, graph)

    def broken(module, plain_path, opt_path, opset):
        opt_path.write_bytes(b"half a graph")
        raise RuntimeError("the optimizer gave up")

    monkeypatch.setattr("xling.export.onnx._optimize_graph", broken)
    return RuntimeError


def fail_fp32_check(monkeypatch, graph: Path) -> type[BaseException]:
    reuse_graph(monkeypatch, graph)
    monkeypatch.setattr("xling.export.onnx.FP32_MIN_COSINE", 1.01)  # a graph that computes something else
    return XlingError


def interrupt_measuring(monkeypatch, graph: Path) -> type[BaseException]:
    reuse_graph(monkeypatch, graph)
    from xling.export import onnx as onnx_module

    real, calls = onnx_module.timed_encode, []

    def interrupted(encoder, *args, **kwargs):  # PyTorch's reference first, then the first graph: Ctrl-C
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(encoder, *args, **kwargs)

    monkeypatch.setattr(onnx_module, "timed_encode", interrupted)
    return KeyboardInterrupt


def interrupt_swapping(monkeypatch, graph: Path) -> type[BaseException]:
    """Ctrl-C while the checked files are moved in, at the last (export.json; every folder made by then): the
    ones already moved go back out, and the folders made for them go too."""
    reuse_graph(monkeypatch, graph)
    from xling.export import onnx as onnx_module

    real_claim, staging = onnx_module.claim_temporary, []

    def claimed(path):
        staging.append(real_claim(path))
        return staging[-1]

    real = shutil.move

    def interrupted(src, dst, *args, **kwargs):
        # moving a new file in from the staging folder (not retiring an old one, nor putting it back)
        if Path(src).is_relative_to(staging[-1]) and Path(src).name == "export.json":
            raise KeyboardInterrupt
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(onnx_module, "claim_temporary", claimed)
    monkeypatch.setattr("xling.export.onnx.shutil.move", interrupted)
    return KeyboardInterrupt


FAILURES = [fail_exporter, fail_optimizer, fail_fp32_check, interrupt_measuring, interrupt_swapping]


@pytest.mark.parametrize("failure", FAILURES, ids=lambda f: f.__name__)
def test_a_failed_re_export_leaves_the_earlier_export_whole(tmp_path, earlier, monkeypatch, failure):
    from xling.export.onnx import export_onnx

    source, exported = earlier
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    before, fp32, int8 = snapshot(out), vectors(out, "onnx"), vectors(out, "onnx-int8")
    error = failure(monkeypatch, exported / "onnx" / "model.onnx")
    # another set of variants (the int8 graph not asked for again): the earlier run deleted model_int8.onnx,
    # model.onnx and export.json before building anything
    with pytest.raises(error):
        export_onnx(source, out, optimize=True, sentences=TEXTS)
    assert snapshot(out) == before  # every file, export.json included, as it was
    assert staging_leftovers(out) == [] and not list(out.glob(".onnx.*"))
    monkeypatch.undo()
    np.testing.assert_array_equal(vectors(out, "onnx"), fp32)
    np.testing.assert_array_equal(vectors(out, "onnx-int8"), int8)


@pytest.mark.parametrize("failure", FAILURES, ids=lambda f: f.__name__)
def test_a_failed_first_export_leaves_a_new_folder_absent_and_an_empty_one_empty(
    tmp_path, earlier, monkeypatch, failure
):
    from xling.export.onnx import export_onnx

    source, exported = earlier
    empty = tmp_path / "empty"
    empty.mkdir()
    error = failure(monkeypatch, exported / "onnx" / "model.onnx")
    for out in (tmp_path / "new", empty):
        with pytest.raises(error):
            export_onnx(source, out, optimize=True, sentences=TEXTS)
    assert not (tmp_path / "new").exists()  # made by the export: taken away whole
    assert snapshot(empty) == {}  # no folder made for the new files (1_Pooling/, onnx/) left behind
    monkeypatch.undo()
    reuse_graph(monkeypatch, exported / "onnx" / "model.onnx")
    export_onnx(source, empty, sentences=TEXTS)  # not refused as a folder holding other files
    assert (empty / "onnx" / "export.json").is_file()


def test_a_failed_re_export_in_place_leaves_the_folders_export_whole(tmp_path, earlier, monkeypatch):
    """In the model folder itself the export copies no tokenizer; it is measured with the folder's own."""
    from xling.export.onnx import export_onnx

    source, exported = earlier
    folder = tmp_path / "model"
    shutil.copytree(source, folder)
    reuse_graph(monkeypatch, exported / "onnx" / "model.onnx")
    report = export_onnx(folder, folder, int8=True, sentences=TEXTS)
    assert {v.backend for v in report.variants} == {"torch", "onnx", "onnx-int8"}
    assert json.loads((folder / "onnx" / "export.json").read_text())["tokenizer_dir"] == "."
    assert staging_leftovers(folder) == []
    before, fp32 = snapshot(folder), vectors(folder, "onnx")
    monkeypatch.setattr("xling.export.onnx.FP32_MIN_COSINE", 1.01)
    with pytest.raises(XlingError, match="export withdrawn"):
        export_onnx(folder, folder, sentences=TEXTS)
    assert snapshot(folder) == before and staging_leftovers(folder) == []
    monkeypatch.undo()
    np.testing.assert_array_equal(vectors(folder, "onnx"), fp32)


def test_a_re_export_replaces_the_earlier_one_and_a_failed_first_one_leaves_nothing(
    tmp_path, earlier, monkeypatch
):
    from xling.export.onnx import export_onnx

    source, exported = earlier
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    (out / "onnx" / "model_int8.onnx.data").write_bytes(b"an earlier graph's external weights")
    reuse_graph(monkeypatch, exported / "onnx" / "model.onnx")
    export_onnx(source, out, sentences=TEXTS)  # fp32 only: the int8 graph (and its weights) go
    assert sorted(path.name for path in (out / "onnx").iterdir()) == ["export.json", "model.onnx"]
    assert json.loads((out / "onnx" / "export.json").read_text())["files"]["int8"] is None
    assert staging_leftovers(out) == []
    assert vectors(out, "onnx").shape == (len(TEXTS), 32)
    # a killed run's staging folder in a new output folder: not another model's files
    fresh = tmp_path / "fresh"
    (fresh / ".onnx.99999999.tmp" / "onnx").mkdir(parents=True)
    export_onnx(source, fresh, sentences=TEXTS)
    assert (fresh / "onnx" / "export.json").is_file()
    # a first export that fails leaves no output folder behind
    monkeypatch.setattr("xling.export.onnx.FP32_MIN_COSINE", 1.01)
    with pytest.raises(XlingError, match="export withdrawn"):
        export_onnx(source, tmp_path / "never", sentences=TEXTS)
    assert not (tmp_path / "never").exists()


def test_graphs_with_external_data_still_load_after_the_move(tmp_path, earlier, monkeypatch):
    """A graph over 2 GB keeps its weights in `model.onnx.data`, named relative to the graph."""
    from xling.export.onnx import export_onnx

    source, _ = earlier
    monkeypatch.setattr("xling.export.onnx.EXTERNAL_DATA_BYTES", 0)  # this tiny model as if it were big
    export_onnx(source, tmp_path / "out", int8=True, sentences=TEXTS)
    onnx_dir = tmp_path / "out" / "onnx"
    assert (onnx_dir / "model.onnx.data").is_file() and staging_leftovers(tmp_path / "out") == []
    assert vectors(tmp_path / "out", "onnx").shape == (len(TEXTS), 32)
    assert vectors(tmp_path / "out", "onnx-int8").shape == (len(TEXTS), 32)
