"""What an export records of the folder it was made from (`source_fingerprints`) and when it is stale."""

from __future__ import annotations

import json
from pathlib import Path

from xling.export.ct2 import changed_since, source_fingerprints


def _st_folder(root: Path, transformer: str = "") -> Path:
    """Return a sentence-transformers folder of placeholder files: the Transformer in `transformer` ("" the
    root), a Pooling config and a Dense head (staleness reads bytes, not tensors)."""
    folder = root / "st"
    for path, text in {
        f"{transformer}/config.json": '{"model_type": "xlm-roberta"}',
        f"{transformer}/model.safetensors": "transformer weights",
        f"{transformer}/sentence_bert_config.json": '{"max_seq_length": 64}',
        "1_Pooling/config.json": '{"pooling_mode_mean_tokens": true}',
        "2_Dense/config.json": '{"in_features": 32, "out_features": 8}',
        "2_Dense/model.safetensors": "dense weights",
    }.items():
        (folder / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (folder / path.lstrip("/")).write_text(text, encoding="utf-8")
    types = ("Transformer", "Pooling", "Dense")
    modules = [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
               for i, (path, kind) in enumerate(zip((transformer, "1_Pooling", "2_Dense"), types, strict=True))]  # fmt: skip
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    return folder


def test_a_sentence_transformers_record_covers_every_module_folder(tmp_path):
    folder = _st_folder(tmp_path, "0_Transformer")
    recorded = source_fingerprints(folder)
    assert sorted(name for name, entry in recorded.items() if not entry.get("absent")) == [
        "0_Transformer/config.json", "0_Transformer/model.safetensors", "0_Transformer/sentence_bert_config.json",
        "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "modules.json",
    ]  # fmt: skip
    # the settings it did not have are recorded as absent: one written later is a change
    assert recorded["config_sentence_transformers.json"] == {"absent": True}
    assert changed_since(folder, recorded) is None
    (folder / "2_Dense" / "model.safetensors").write_text("other dense weights", encoding="utf-8")
    assert (
        changed_since(folder, recorded)
        == "2_Dense/model.safetensors has changed since the export (its size differs)"
    )
    (folder / "2_Dense" / "model.safetensors").write_text("dense weights", encoding="utf-8")
    (folder / "2_Dense" / "pytorch_model.bin").write_text("dense weights", encoding="utf-8")
    assert changed_since(folder, recorded).startswith(
        "its weights are now 0_Transformer/model.safetensors, 2_Dense/"
    )


def test_a_record_taken_before_module_folders_were_recorded_is_compared_as_taken(tmp_path):
    """An export made before the record covered module folders holds the root's config.json and weights: it
    is read without error and not found stale for the files it did not record (re-export to cover them)."""
    folder = _st_folder(tmp_path)
    old = {name: entry for name, entry in source_fingerprints(folder).items()
           if name in ("config.json", "model.safetensors")}  # fmt: skip
    assert len(old) == 2
    (folder / "2_Dense" / "model.safetensors").write_text("other dense weights", encoding="utf-8")
    assert changed_since(folder, old) is None
    (folder / "model.safetensors").write_text("retrained transformer", encoding="utf-8")
    assert changed_since(folder, old) == "model.safetensors has changed since the export (its size differs)"


def test_a_folder_without_the_models_weights_is_not_compared(tmp_path):
    """An export written to a folder of its own holds copies of the Dense head and the configs, not the model."""
    folder = _st_folder(tmp_path, "0_Transformer")
    recorded = source_fingerprints(folder)
    (folder / "0_Transformer" / "model.safetensors").unlink()
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}', encoding="utf-8")
    assert changed_since(folder, recorded) is None


def test_a_translation_model_records_its_config_and_weights_only(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "m2m_100"}', encoding="utf-8")
    (tmp_path / "model.safetensors").write_text("weights", encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")
    assert sorted(source_fingerprints(tmp_path)) == ["config.json", "model.safetensors"]
