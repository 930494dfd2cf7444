"""`xling adapt` on a transformer: a tiny XLM-R learns a made-up language, a letter cipher of its own one
into the Greek alphabet (which its vocabulary spells byte by byte)."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from xling.adaptation import AdaptConfig, adapt
from xling.adaptation.config import AdaptTransformerConfig, AdaptVocabularyConfig
from xling.adaptation.data import AdaptData
from xling.adaptation.transformer import (
    ADAPTER_DIR,
    AdaptObjective,
    adapt_transformer,
    head_drops_bias,
    load_adapter_model,
    masked_perplexity,
    transformer_training,
)
from xling.errors import ConfigError, XlingError
from xling.training import TrainingConfig

SYLLABLES = ["ka", "to", "ri", "mu", "len", "sa", "po", "ne", "dra", "vi", "lo", "te", "bu", "gor", "hi", "fa",
             "zu", "mer", "qi", "wo"]  # fmt: skip
LATIN = "abdefghiklmnopqrstuvwz"
CIPHER = str.maketrans(LATIN, "αβγδεζηθικλμνξοπρστυφχ")
MAX_LENGTH = 32


def cipher(text: str) -> str:
    """Return `text` with each Latin letter replaced by a Greek one (the made-up language)."""
    return text.translate(CIPHER)


def sentences(rng: random.Random, words: list[str], n: int) -> list[str]:
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 10))) for _ in range(n)]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict:
    """Return the made-up languages' words and sentences, and a tiny base model folder that knows the
    Latin one (its own tokenizer, random weights, xling.json listing eng)."""
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xling.artifacts import write_metadata
    from xling.tokenization.vocabulary import VocabConfig, load_tokenizer, train_vocabulary

    rng = random.Random(0)
    words = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(300)})
    old = sentences(rng, words, 600)
    root = tmp_path_factory.mktemp("adapt-transformer")
    tokenizer_dir = root / "tokenizer"
    train_vocabulary({"eng": lambda: iter(old)},
                     VocabConfig(output=str(tokenizer_dir), vocab_size=400, sample_sentences=600, threads=1))  # fmt: skip
    tokenizer = load_tokenizer(tokenizer_dir)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=MAX_LENGTH + 2,
                              pad_token_id=tokenizer.pad_token_id, hidden_dropout_prob=0.0,
                              attention_probs_dropout_prob=0.0)  # fmt: skip
    model = XLMRobertaForMaskedLM(config)
    with torch.no_grad():  # a trained model's output bias is not 0: the new tokens' must start sensibly
        model.lm_head.bias.normal_(-2.0, 1.0)
    base = root / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    write_metadata(base, {"kind": "masked-lm", "languages": ["eng"], "pooling": "mean"})
    new = [cipher(s) for s in sentences(rng, words, 500)]
    pairs = [(s, cipher(s)) for s in sentences(rng, words, 200)]
    return {"root": root, "base": base, "words": words, "old": old, "new": new, "pairs": pairs}


def settings(toy: dict, output: Path, **changes) -> AdaptConfig:
    config = AdaptConfig(
        model=str(toy["base"]), language="ell", text=["-"], output=str(output), dev_share=0.1, seed=0,
        vocabulary=AdaptVocabularyConfig(max_new=150, learn_size=300),
        transformer=AdaptTransformerConfig(max_length=MAX_LENGTH),
        training=TrainingConfig(max_steps=120, batch_size=16, lr=3e-3, warmup_steps=10, log_every=40,
                                checkpoint_every=1000, threads=1, precision="fp32", progress=False),
    )  # fmt: skip
    return replace(config, **changes)


def toy_data(toy: dict, *, texts: bool = True, parallel: bool = True, dictionary: bool = True) -> AdaptData:
    data = AdaptData("ell", "eng")
    if texts:
        data.texts = list(toy["new"])
    if parallel:
        data.parallel = list(toy["pairs"])
    if dictionary:
        data.dictionary = [(w, cipher(w)) for w in toy["words"]]
    data.sources = [{"kind": k, "source": "toy", "items": 1} for k in ("text", "parallel", "dictionary")]
    return data


@pytest.fixture(scope="module")
def full_run(toy) -> dict:
    """Return the result of adapting through `adapt()` from files (full fine-tuning)."""
    root = toy["root"]
    (root / "new.txt").write_text("\n".join(toy["new"]) + "\n", encoding="utf-8")
    (root / "pairs.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in toy["pairs"]), encoding="utf-8")
    (root / "dictionary.tsv").write_text(
        "".join(f"{w}\t{cipher(w)}\n" for w in toy["words"]), encoding="utf-8"
    )
    (root / "protect.txt").write_text("\n".join(toy["old"][:300]) + "\n", encoding="utf-8")
    config = settings(toy, root / "full", text=[str(root / "new.txt")], parallel=[str(root / "pairs.tsv")],
                      dictionary=[str(root / "dictionary.tsv")])  # fmt: skip
    config.vocabulary.protect = [str(root / "protect.txt")]
    lines: list[str] = []
    return {"result": adapt(config, say=lines.append), "config": config, "lines": lines}


@pytest.fixture(scope="module")
def lora_run(toy) -> dict:
    config = settings(toy, toy["root"] / "lora", transformer=AdaptTransformerConfig(max_length=MAX_LENGTH, lora=True,
                                                                                   lora_rank=4))  # fmt: skip
    config.training.lr = 1e-2
    result = adapt_transformer(config, toy["base"], toy_data(toy), toy["old"][:300])
    return {"result": result, "config": config}


def test_checkpoints_keep_the_hashes_of_every_file_read(toy, full_run):
    """A resume refuses data edited since (the training loop's data_files); adapt passed none."""
    from xling.training.checkpoint import list_checkpoints

    state = json.loads((list_checkpoints(full_run["result"].output)[-1] / "trainer_state.json").read_text())
    names = {Path(path).name for path in state["data_files"]}
    assert names == {"new.txt", "pairs.tsv", "dictionary.tsv", "protect.txt"}  # protect.txt: the replay's


def test_vocabulary_grows_and_keeps_old_ids(toy, full_run):
    from transformers import AutoTokenizer

    output = full_run["result"].output
    old = AutoTokenizer.from_pretrained(str(toy["base"]))
    new = AutoTokenizer.from_pretrained(str(output))
    old_vocab, new_vocab = old.get_vocab(), new.get_vocab()
    added = full_run["result"].vocabulary["added"]
    assert added > 20 and len(new) == len(old) + added
    assert all(new_vocab[piece] == i for piece, i in old_vocab.items())
    assert not (output / "sentencepiece.bpe.model").exists()  # it would describe the old vocabulary
    for text in toy["old"][:300]:  # the protected text: the very same ids
        assert new(text)["input_ids"] == old(text)["input_ids"]
    greek = toy["new"][0]
    assert max(new(greek)["input_ids"][1:-1]) >= len(old)
    assert len(new(greek)["input_ids"]) < len(old(greek)["input_ids"]) / 2  # bytes before, pieces after
    assert full_run["result"].vocabulary["protected_changed"] == 0


def test_output_folder_reloads_with_the_measured_outputs(toy, full_run):
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

    from xling.embeddings.encoder import Encoder
    from xling.embeddings.pooling import encode_mean_pooled

    result, config = full_run["result"], full_run["config"]
    output = result.output
    model = AutoModelForMaskedLM.from_pretrained(str(output)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(output))
    assert model.config.vocab_size == len(tokenizer)
    # the perplexity measured in memory after training, measured again on the reloaded folder
    heldout = _heldout(toy, config)
    again = masked_perplexity(AdaptObjective(model), tokenizer, heldout, mlm_probability=0.15, seed=config.seed,
                              max_length=MAX_LENGTH)  # fmt: skip
    assert again == pytest.approx(result.after["mlm_perplexity"], rel=1e-3)
    texts = [toy["new"][0], toy["old"][0]]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = AutoModel.from_pretrained(str(output)).eval()(**batch).last_hidden_state
        assert torch.allclose(model.base_model(**batch).last_hidden_state, hidden, atol=1e-5)
    vectors = Encoder.load(output).encode(texts)
    assert np.allclose(vectors, encode_mean_pooled(model, tokenizer, texts), atol=1e-5)

    meta = json.loads((output / "xling.json").read_text())
    assert meta["languages"] == ["eng", "ell"] and meta["kind"] == "masked-lm"
    entry = meta["adaptations"][-1]
    assert (
        entry["language"] == "ell"
        and entry["base_model"] == str(toy["base"].resolve())
        and entry["method"] == "full"
    )
    assert {s["kind"] for s in entry["data"]} == {"text", "parallel", "dictionary"}
    assert entry["after"] == result.after and entry["training"]["steps"] == 120
    # the run's warnings and notes, as a static adaptation records its result (they were shown once, then lost)
    assert (entry["warnings"], entry["relative"], entry["before_is_recall"]) == (
        result.warnings, result.relative, result.before_is_recall)  # fmt: skip
    assert any("training on" in line for line in full_run["lines"])


def test_held_out_perplexity_falls(full_run):
    result = full_run["result"]
    before, after = result.before, result.after
    print(f"\nnew language: perplexity {before['mlm_perplexity']} -> {after['mlm_perplexity']}, tokens/sentence "
          f"{before['tokens_per_sentence']} -> {after['tokens_per_sentence']}, retrieval {before['retrieval']} -> "
          f"{after['retrieval']} ({after['retrieval_pairs']:.0f} pairs); old language: perplexity "
          f"{before['old_mlm_perplexity']} -> {after['old_mlm_perplexity']}")  # fmt: skip
    assert after["mlm_perplexity"] < before["mlm_perplexity"]
    # a quarter of each batch replays the protected old-language text (the base is random: it learns it)
    assert after["old_mlm_perplexity"] < before["old_mlm_perplexity"]
    assert after["tokens_per_sentence"] < before["tokens_per_sentence"] / 2
    assert (
        before["unknown_share"] == after["unknown_share"] == 0.0
    )  # a base with byte fallback spells anything
    assert result.examples["heldout"] >= 50 and result.examples["heldout_pairs"] == 20


def test_lora_adapter_loads_on_the_resized_base(toy, lora_run):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    result = lora_run["result"]
    output = result.output
    assert (output / ADAPTER_DIR / "adapter_config.json").is_file()
    assert (output / ADAPTER_DIR / "adapter_model.safetensors").is_file()
    assert result.after["mlm_perplexity"] < result.before["mlm_perplexity"]
    merged = AutoModelForMaskedLM.from_pretrained(str(output)).eval()
    peft_model = load_adapter_model(output).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(output))
    batch = tokenizer([toy["new"][1], toy["old"][1]], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = merged(**batch).logits
        inner = peft_model.get_base_model()
        hidden = inner.base_model(**batch).last_hidden_state
        assert torch.allclose(hidden, merged.base_model(**batch).last_hidden_state, atol=1e-5)
        # the merged model's logits, the LM head's bias included (huggingface/peft#3649 leaves it out)
        assert torch.allclose(peft_model(**batch).logits, expected, atol=1e-4)
        assert not head_drops_bias(inner)
    # only the new rows of the embedding matrix trained; the old ones are the base model's
    base = AutoModelForMaskedLM.from_pretrained(str(toy["base"]))
    old_rows = base.get_input_embeddings().weight
    assert torch.equal(merged.get_input_embeddings().weight[: len(old_rows)], old_rows)
    meta = json.loads((output / "xling.json").read_text())
    assert meta["adaptations"][-1]["adapter"]["vocab_size"] == len(tokenizer)


def test_a_resumed_run_ends_as_an_uninterrupted_one(toy, lora_run, tmp_path):
    import shutil

    from xling.training.checkpoint import list_checkpoints

    config = replace(lora_run["config"], output=str(tmp_path / "run"))
    config.training = replace(config.training, max_steps=30, checkpoint_every=10, keep_checkpoints=3)
    data = toy_data(toy)
    whole = adapt_transformer(config, toy["base"], data, toy["old"][:300])
    shutil.rmtree(list_checkpoints(whole.output)[-1])  # as if killed between steps 20 and 30
    resumed = adapt_transformer(replace(config, resume=True), toy["base"], data, toy["old"][:300])
    assert resumed.training["resumed_from"] == 20 and resumed.training["steps"] == 30
    assert resumed.after == whole.after and resumed.vocabulary["added"] == whole.vocabulary["added"]


def test_overwrite_replaces_the_model_and_its_adapter(toy, tmp_path):
    output = tmp_path / "twice"
    first = settings(
        toy, output, transformer=AdaptTransformerConfig(max_length=MAX_LENGTH, lora=True, lora_rank=2)
    )
    first.training.max_steps = 5
    adapt_transformer(first, toy["base"], toy_data(toy), toy["old"][:300])
    assert (output / ADAPTER_DIR).is_dir()
    second = replace(first, transformer=AdaptTransformerConfig(max_length=MAX_LENGTH), overwrite=True)
    result = adapt_transformer(second, toy["base"], toy_data(toy), toy["old"][:300])
    assert not (output / ADAPTER_DIR).exists()  # a stale adapter would not belong to the new weights
    meta = json.loads((output / "xling.json").read_text())
    assert [a["method"] for a in meta["adaptations"]] == ["full"] and result.training["resumed_from"] == 0


def test_config_errors_are_clear(toy, full_run, tmp_path):
    words_only = toy_data(toy, texts=False, parallel=False)
    with pytest.raises(ConfigError, match="text, parallel"):
        adapt_transformer(settings(toy, tmp_path / "a"), toy["base"], words_only, [])
    bad_rank = settings(toy, tmp_path / "b", transformer=AdaptTransformerConfig(lora=True, lora_rank=0))
    with pytest.raises(ConfigError, match="lora_rank"):
        bad_rank.validate()
    with pytest.raises(ConfigError, match="model folder itself"):
        adapt_transformer(settings(toy, toy["base"]), toy["base"], toy_data(toy), [])
    with pytest.raises(XlingError, match="already there"):
        adapt_transformer(settings(toy, full_run["result"].output), toy["base"], toy_data(toy), [])


def test_transformer_training_defaults_replace_the_static_ones():
    config = AdaptConfig(language="ell", text=["x"])
    training = transformer_training(config)
    assert training.lr == 1e-4 and training.batch_size == 32 and training.clip_norm == 1.0
    config.training.max_steps = 50
    config.transformer.lora = True
    training = transformer_training(config)
    assert training.max_steps == 50 and training.lr == 5e-4


def _heldout(toy: dict, config: AdaptConfig) -> list[str]:
    from xling.adaptation.transformer import split_sentences

    _, heldout, _ = split_sentences(toy_data(toy), config.dev_share, config.seed)
    return heldout


def test_resume_refuses_a_model_without_its_run(toy, tmp_path):
    """With no checkpoints or saved vocabulary, --resume would start afresh and replace the model there."""
    import shutil

    output = tmp_path / "copy"
    shutil.copytree(toy["base"], output)
    config = settings(toy, output, resume=True)
    config.training = replace(config.training, max_steps=2)
    with pytest.raises(XlingError, match="a model is already there and no adapt run to resume"):
        adapt_transformer(config, toy["base"], toy_data(toy), toy["old"][:300])
    assert sorted(p.name for p in output.iterdir()) == sorted(p.name for p in toy["base"].iterdir())


def test_a_transformer_written_over_a_static_model_replaces_it_whole(toy, tmp_path, tiny_static):
    import shutil

    from xling.adaptation.adapt import model_kind

    output = tmp_path / "over"
    shutil.copytree(tiny_static, output)
    (
        output / "xling.json"
    ).unlink()  # a sentence-transformers folder xling did not make: occupied all the same
    config = settings(toy, output)
    config.training = replace(config.training, max_steps=2)
    with pytest.raises(XlingError, match="over: a model is already there; pass overwrite"):
        adapt_transformer(config, toy["base"], toy_data(toy), toy["old"][:300])
    adapt_transformer(replace(config, overwrite=True), toy["base"], toy_data(toy), toy["old"][:300])
    assert model_kind(output) == "transformer"
    assert not {"modules.json", "0_StaticEmbedding", "1_Normalize"} & {p.name for p in output.iterdir()}


def test_the_old_languages_vectors_moving_is_said_and_recorded(full_run):
    meta = json.loads((full_run["result"].output / "xling.json").read_text())
    assert meta["adaptations"][-1]["old_languages"]["vectors"] == "move"
    assert any("old languages' vectors move too" in line for line in full_run["lines"])


def test_training_values_set_on_purpose_win_even_at_the_static_defaults(tmp_path):
    from xling.adaptation.config import load_adapt_config

    recipe = tmp_path / "r.toml"
    recipe.write_text("[adapt.training]\nweight_decay = 0.0\nclip_norm = 0.0\n", encoding="utf-8")
    config = load_adapt_config(recipe, ["training.precision=fp32", "training.batch_size=256"], language="ell",
                               text=["x"])  # fmt: skip
    training = transformer_training(config)
    assert (training.precision, training.batch_size, training.weight_decay, training.clip_norm) == (
        "fp32", 256, 0.0, 0.0)  # fmt: skip
    assert training.lr == 1e-4  # not set: the transformer's default
    config = AdaptConfig(language="ell", text=["x"])
    config.training.precision = "fp32"
    training = transformer_training(config)
    assert (training.precision, training.batch_size) == ("fp32", 32)


def test_held_out_sentences_neither_shape_the_pieces_nor_replay(toy, tmp_path, monkeypatch):
    import xling.adaptation.transformer as transformer
    from xling.adaptation.transformer import split_sentences

    seen = {}
    extend, batches = transformer.extend_vocabulary, transformer.training_batches

    def spy_extend(base, texts, **options):
        seen["learnt_from"] = list(texts)
        return extend(base, texts, **options)

    def spy_batches(tokenizer, train_texts, replay_texts, *args, **options):
        seen["replay"] = list(replay_texts)
        return batches(tokenizer, train_texts, replay_texts, *args, **options)

    monkeypatch.setattr(transformer, "extend_vocabulary", spy_extend)
    monkeypatch.setattr(transformer, "training_batches", spy_batches)
    config = settings(
        toy, tmp_path / "out", transformer=AdaptTransformerConfig(max_length=MAX_LENGTH, replay=0.25)
    )
    config.training = replace(config.training, max_steps=2)
    data = toy_data(toy)
    protected = [*toy["old"][:300], *(pivot for pivot, _ in data.parallel)]  # as adapt() protects the pivots
    adapt_transformer(config, toy["base"], data, protected)
    _, heldout, dev_pairs = split_sentences(data, config.dev_share, config.seed)
    assert heldout and dev_pairs
    assert not set(heldout) & set(seen["learnt_from"])  # the held-out perplexity is of unseen text
    assert not {pivot for pivot, _ in dev_pairs} & set(seen["replay"])  # the dev retrieval's pivots too


def test_a_test_split_is_refused_as_protected_text(tmp_path):
    """A transformer's replay trains on the protected sentences: a test split must not be one of them."""
    from xling.adaptation.adapt import protected_texts

    test_split = tmp_path / "en_partut-ud-test.conllu"
    test_split.write_text("# text = Hi\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    config = AdaptConfig(language="ell", text=["x"])
    config.vocabulary.protect = [str(test_split)]
    with pytest.raises(ConfigError, match=r"^vocabulary.protect: .*en_partut-ud-test.conllu is a test set"):
        protected_texts(config, ["eng"], "ell")


def test_a_model_folder_without_its_tokenizer_is_refused(toy, tmp_path):
    """transformers builds a 5-token tokenizer where tokenizer.json is missing; masking then failed deep in
    the before-figures with a traceback."""
    import shutil

    from xling.adaptation.transformer import load_masked_lm
    from xling.errors import DataError

    folder = tmp_path / "no-tokenizer"
    shutil.copytree(toy["base"], folder)
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "sentencepiece.bpe.model",
    ):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(DataError, match=r"no-tokenizer: the tokenizer holds \d+ tokens for a model of"):
        load_masked_lm(folder)


def test_resume_with_more_steps_keeps_the_runs_derived_warmup(toy, tmp_path):
    """An unset warm-up is a tenth of max_steps; a resume that raises max_steps (a field it may change) was
    refused for a warm-up the user never set."""
    import shutil

    from xling.training.checkpoint import list_checkpoints

    config = settings(toy, tmp_path / "run")
    config.training = AdaptConfig().training  # its fields count as set once assigned, as --set does
    for name, value in {"max_steps": 20, "batch_size": 16, "lr": 3e-3, "checkpoint_every": 10, "threads": 1,
                        "precision": "fp32", "progress": False}.items():  # fmt: skip
        setattr(config.training, name, value)
    first = adapt_transformer(config, toy["base"], toy_data(toy), toy["old"][:300])
    assert first.training["steps"] == 20
    shutil.rmtree(list_checkpoints(first.output)[-1])  # as if killed between steps 10 and 20, before saving
    (first.output / "xling.json").unlink()
    longer = copy.deepcopy(replace(config, resume=True))
    longer.training.max_steps = 40
    resumed = adapt_transformer(longer, toy["base"], toy_data(toy), toy["old"][:300])
    assert resumed.training["resumed_from"] == 10 and resumed.training["steps"] == 40


def test_resume_before_the_first_checkpoint_refuses_another_vocabulary_setting(toy, tmp_path, monkeypatch):
    """adapt-state/ was taken up by any --resume: a run killed before its first checkpoint (every 500 steps by
    default) resumed with max_new 150 kept the 10 pieces of the killed one, unchecked."""
    import xling.adaptation.transformer as transformer

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    config = settings(toy, tmp_path / "run", vocabulary=AdaptVocabularyConfig(max_new=10, learn_size=300))
    config.training = replace(config.training, max_steps=2)
    with monkeypatch.context() as patch:
        patch.setattr(transformer, "train", killed)
        with pytest.raises(KeyboardInterrupt):
            adapt_transformer(config, toy["base"], toy_data(toy), toy["old"][:300])
    assert not (tmp_path / "run" / "checkpoints").exists() and (tmp_path / "run" / "adapt-state").is_dir()
    other = replace(config, resume=True, vocabulary=AdaptVocabularyConfig(max_new=150, learn_size=300))
    with pytest.raises(
        ConfigError, match=r"adapt-state: --resume with other settings .*max_new: 10 in the run, 150"
    ):
        adapt_transformer(other, toy["base"], toy_data(toy), toy["old"][:300])
    # the run's own settings (how long it trains may change): its vocabulary is taken up
    same = replace(config, resume=True, training=replace(config.training, max_steps=3))
    resumed = adapt_transformer(same, toy["base"], toy_data(toy), toy["old"][:300])
    assert resumed.vocabulary["added"] == 10 and resumed.training["steps"] == 3


def test_replacing_a_language_listed_under_another_code_lists_it_once(toy, tmp_path):
    """A base listing `el` adapted again as `ell`: xling.json listed Greek twice."""
    import shutil

    from xling.artifacts import read_metadata, write_metadata

    base = tmp_path / "base"
    shutil.copytree(toy["base"], base)
    write_metadata(base, {**read_metadata(base), "languages": ["eng", "el"]})
    config = settings(toy, tmp_path / "out", model=str(base))
    config.training = replace(config.training, max_steps=2)
    result = adapt_transformer(config, base, toy_data(toy), toy["old"][:300])
    assert read_metadata(result.output)["languages"] == ["eng", "el"]


def test_a_lora_adapter_loads_on_a_base_with_more_rows_than_tokens(toy, tmp_path):
    """A base padded past its tokenizer (rows to a multiple of 8, say) keeps its rows; the adapter's saved
    output bias has that many, so the base must be resized to them, not to the tokenizer's length."""
    from transformers import AutoModelForMaskedLM

    from xling.artifacts import read_metadata, write_metadata

    padded = tmp_path / "padded"
    model = AutoModelForMaskedLM.from_pretrained(str(toy["base"]))
    model.resize_token_embeddings(model.get_input_embeddings().weight.shape[0] + 16, mean_resizing=False)
    model.save_pretrained(padded)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (toy["base"] / name).is_file():
            (padded / name).write_bytes((toy["base"] / name).read_bytes())
    write_metadata(padded, read_metadata(toy["base"]))
    config = settings(toy, tmp_path / "lora", transformer=AdaptTransformerConfig(max_length=MAX_LENGTH, lora=True,
                                                                                 lora_rank=2))  # fmt: skip
    config.training.max_steps = 5
    config.vocabulary.max_new = 10  # fewer new tokens than the padding: the rows stay the base's
    result = adapt_transformer(config, padded, toy_data(toy), toy["old"][:300])
    rows = AutoModelForMaskedLM.from_pretrained(str(result.output)).get_input_embeddings().weight.shape[0]
    peft_model = load_adapter_model(result.output)
    assert peft_model.get_base_model().get_input_embeddings().weight.shape[0] == rows


def test_the_seed_decides_the_lora_initialisation(toy, tmp_path):
    """Two runs with one config in one process give one adapter: LoRA's A matrices come from the global
    generator, which nothing had seeded before them (they differed by up to 0.33)."""
    from safetensors.torch import load_file

    adapters = []
    for name in ("one", "two"):
        torch.manual_seed(len(name) + len(adapters))  # whatever state the process is in
        config = settings(toy, tmp_path / name,
                          transformer=AdaptTransformerConfig(max_length=MAX_LENGTH, lora=True, lora_rank=2))  # fmt: skip
        config.training = replace(config.training, max_steps=3, checkpoint_every=3)
        adapt_transformer(config, toy["base"], toy_data(toy), toy["old"][:300])
        adapters.append(load_file(str(tmp_path / name / ADAPTER_DIR / "adapter_model.safetensors")))
    assert adapters[0].keys() == adapters[1].keys()
    assert all(torch.equal(adapters[0][key], adapters[1][key]) for key in adapters[0])


def test_the_readmes_adapter_loading_gives_the_merged_model(toy, lora_run):
    """The README's code (adapt section) runs as printed on a LoRA output: `load_adapter_model`, and plain
    peft on the base resized to the adapter's vocab_size (an IndexError without it), with the LM head's bias
    added back, give the merged model's hidden states and logits."""
    import re
    import textwrap

    from transformers import AutoModelForMaskedLM

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Adding a language: `xling adapt`", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)\n *```", section.split("load_adapter_model(output)`", 1)[-1], re.S)
    assert block, "README: no python block on loading the LoRA adapter in the adapt section"
    code = textwrap.dedent(block.group(1))
    assert '"runs/bible-small-tur-lora"' in code
    names: dict = {}
    exec(code.replace('"runs/bible-small-tur-lora"', repr(str(lora_run["result"].output))), names)
    merged = AutoModelForMaskedLM.from_pretrained(str(lora_run["result"].output)).eval()
    batch = names["tokenizer"]([toy["new"][2], toy["old"][2]], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = merged(**batch).logits
        hidden = names["peft_model"].get_base_model().base_model(**batch).last_hidden_state
        assert torch.allclose(hidden, merged.base_model(**batch).last_hidden_state, atol=1e-5)
        assert torch.allclose(names["model"](**batch).logits, expected, atol=1e-4)
        readme_batch = names["batch"]
        assert torch.allclose(names["logits"], merged(**readme_batch).logits, atol=1e-4)


@pytest.fixture(scope="module")
def st_base(toy) -> Path:
    """Return a sentence-transformers folder over the toy model's encoder (no masked-LM head, as any
    sentence encoder): Transformer at the root, CLS pooling, Normalize."""
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer, models

    folder = toy["root"] / "st-base"
    transformer = models.Transformer(str(toy["base"]), max_seq_length=MAX_LENGTH)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="cls")
    model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    model.save(str(folder))
    return folder


def _module_stack(folder: Path) -> tuple[list[str], dict]:
    """Return (the module types sentence-transformers loads from `folder`, its Pooling module's config)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    pooling = next(module for module in model if type(module).__name__ == "Pooling")
    return [type(module).__name__ for module in model], pooling.get_config_dict()


@pytest.mark.parametrize("lora", [False, True])
def test_a_sentence_transformers_base_keeps_its_pooling_and_normalisation(toy, st_base, tmp_path, lora):
    """Only the Hugging Face files were written: a [Transformer, Pooling(cls), Normalize] base came out as
    mean pooling without Normalize, in sentence-transformers and in Encoder.load."""
    from sentence_transformers import SentenceTransformer

    from xling.embeddings.encoder import Encoder

    config = settings(toy, tmp_path / "out", model=str(st_base),
                      transformer=AdaptTransformerConfig(max_length=MAX_LENGTH, lora=lora, lora_rank=2))  # fmt: skip
    config.training = replace(config.training, max_steps=3)
    result = adapt_transformer(config, st_base, toy_data(toy), toy["old"][:300])
    output = result.output
    assert _module_stack(output) == _module_stack(st_base)
    assert _module_stack(output)[0] == ["Transformer", "Pooling", "Normalize"]
    texts = [toy["new"][0], toy["old"][0]]
    encoder = Encoder.load(output)
    vectors = encoder.encode(texts)
    assert encoder.module.pooling == "cls"
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors, SentenceTransformer(str(output), device="cpu").encode(texts), atol=1e-5)
    # a sentence encoder has no masked-LM head: LoRA trains none of the random one's weights but its biases
    (head,) = [w for w in result.warnings if "no masked-LM head" in w]
    assert ("only its biases train" in head) == lora


def test_a_sentence_transformers_base_with_its_transformer_in_a_subfolder_is_refused(toy, tmp_path):
    """The model is written at the output's root: copying modules.json would leave it pointing at a module
    folder of the old weights, so such a base is refused before training."""
    import shutil

    folder = tmp_path / "st-sub"
    shutil.copytree(toy["base"], folder)  # a Hugging Face folder at the root too, as transformers reads it
    shutil.copytree(toy["base"], folder / "0_Transformer")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    modules = [{"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]  # fmt: skip
    (folder / "modules.json").write_text(json.dumps(modules))
    config = settings(toy, tmp_path / "out", model=str(folder))
    config.training = replace(config.training, max_steps=2)
    with pytest.raises(ConfigError, match=r"st-sub is a sentence-transformers folder whose Transformer module is "
                                          r"not at its root \(modules.json: 0_Transformer/\)"):  # fmt: skip
        adapt_transformer(config, folder, toy_data(toy), toy["old"][:300])
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_a_base_without_its_masked_lm_head_is_adapted_with_a_warning(toy, full_run, tmp_path):
    """AutoModelForMaskedLM gives an encoder-only checkpoint a random LM head, silently: the "before"
    perplexity was that head's. A warning names the folder, and `before` has no perplexity."""
    import shutil

    from transformers import AutoModel

    folder = tmp_path / "encoder-only"
    AutoModel.from_pretrained(str(toy["base"])).save_pretrained(folder)  # XLMRobertaModel: no lm_head
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "xling.json"):
        if (toy["base"] / name).is_file():
            shutil.copy2(toy["base"] / name, folder / name)
    config = settings(toy, tmp_path / "out", model=str(folder))
    config.training = replace(config.training, max_steps=3)
    result = adapt_transformer(config, folder, toy_data(toy), toy["old"][:300])
    head = [w for w in result.warnings if "no masked-LM head" in w]
    assert len(head) == 1 and str(folder) in head[0]
    assert "starts random" in head[0] and "trains a new head" in head[0] and "before" in head[0]
    assert "mlm_perplexity" not in result.before and "old_mlm_perplexity" not in result.before
    assert "tokens_per_sentence" in result.before and "retrieval" in result.before
    assert "mlm_perplexity" in result.after
    recorded = json.loads((result.output / "xling.json").read_text())["adaptations"][-1]["before"]
    assert recorded == result.before
    # a masked LM's own head is no cause for it
    assert not any("masked-LM head" in w for w in full_run["result"].warnings)
    assert "mlm_perplexity" in full_run["result"].before


def _encoder_only(toy, folder: Path) -> Path:
    """Return `folder` holding the toy base's encoder alone (XLMRobertaModel: no lm_head), as a sentence
    encoder's checkpoint is."""
    import shutil

    from transformers import AutoModel

    AutoModel.from_pretrained(str(toy["base"])).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "xling.json"):
        if (toy["base"] / name).is_file():
            shutil.copy2(toy["base"] / name, folder / name)
    return folder


def test_lora_on_a_base_without_its_head_reloads_with_the_same_head(toy, tmp_path):
    """The random head an encoder-only base gets was drawn before any seed (two equal runs differed by up to
    0.098) and was in neither the adapter nor the base: `load_adapter_model` drew another one, its logits up to
    0.79 from the merged model's. Now the seed draws it and the adapter folder keeps what LoRA does not."""
    from safetensors.torch import load_file
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from xling.adaptation.transformer import ADAPTER_HEAD_FILE

    folder = _encoder_only(toy, tmp_path / "encoder-only")
    outputs = []
    for name in ("one", "two"):
        torch.manual_seed(len(outputs) + 7)  # whatever state the process is in
        config = settings(toy, tmp_path / name,
                          transformer=AdaptTransformerConfig(max_length=MAX_LENGTH, lora=True, lora_rank=2))  # fmt: skip
        config.training = replace(config.training, max_steps=3)
        outputs.append(adapt_transformer(config, folder, toy_data(toy), toy["old"][:300]).output)
    first, second = (load_file(str(output / "model.safetensors")) for output in outputs)
    assert all(torch.equal(first[key], second[key]) for key in first)
    head = load_file(str(outputs[0] / ADAPTER_DIR / ADAPTER_HEAD_FILE))
    assert "lm_head.dense.weight" in head and "lm_head.decoder.weight" not in head  # tied: the adapter's rows
    merged = AutoModelForMaskedLM.from_pretrained(str(outputs[0])).eval()
    torch.manual_seed(123)  # another draw for a head the file did not give
    peft_model = load_adapter_model(outputs[0]).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(outputs[0]))
    batch = tokenizer([toy["new"][1], toy["old"][1]], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(peft_model(**batch).logits, merged(**batch).logits, atol=1e-4)


def test_a_half_precision_base_trains_in_float32(toy, tmp_path):
    """transformers loads a checkpoint in its own dtype: AdamW then stepped bf16 weights, and most small
    updates rounded away (29.5% of the weights and every LayerNorm weight never moved at lr 1e-4)."""
    from transformers import AutoModelForMaskedLM

    from xling.adaptation.transformer import load_masked_lm

    folder = tmp_path / "bf16"
    AutoModelForMaskedLM.from_pretrained(str(toy["base"])).to(torch.bfloat16).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "xling.json"):
        if (toy["base"] / name).is_file():
            (folder / name).write_bytes((toy["base"] / name).read_bytes())
    assert AutoModelForMaskedLM.from_pretrained(str(folder)).dtype == torch.bfloat16
    model, _, missing = load_masked_lm(folder)
    assert model.dtype == torch.float32 and missing == []


def test_a_base_with_untied_embeddings_is_adapted_and_reloads(toy, tmp_path):
    """With tie_word_embeddings false, transformers 5 keeps the head's bias apart from the decoder's, and
    resizing grew the decoder's alone: the new tokens' start bias went nowhere and the saved folder did not
    load again (lm_head.bias of the old size)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    folder = tmp_path / "untied"
    tied = AutoModelForMaskedLM.from_pretrained(str(toy["base"]))
    untied_config = copy.deepcopy(tied.config)
    untied_config.tie_word_embeddings = False
    untied = AutoModelForMaskedLM.from_config(untied_config)
    untied.load_state_dict(tied.state_dict(), strict=False)
    with torch.no_grad():
        untied.lm_head.decoder.weight.copy_(tied.lm_head.decoder.weight + 0.5)  # a head of its own
        untied.lm_head.decoder.bias.copy_(tied.lm_head.bias)
        untied.lm_head.bias.copy_(tied.lm_head.bias)
    untied.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "xling.json"):
        if (toy["base"] / name).is_file():
            (folder / name).write_bytes((toy["base"] / name).read_bytes())
    config = settings(toy, tmp_path / "out", model=str(folder))
    config.training = replace(config.training, max_steps=3)
    result = adapt_transformer(config, folder, toy_data(toy), toy["old"][:300])
    model = AutoModelForMaskedLM.from_pretrained(str(result.output)).eval()
    assert (
        model.lm_head.decoder.weight.data_ptr() != model.roberta.embeddings.word_embeddings.weight.data_ptr()
    )
    tokenizer = AutoTokenizer.from_pretrained(str(result.output))
    added = result.vocabulary["added"]
    assert added > 0 and model.lm_head.decoder.bias.shape[0] == len(tokenizer)
    # the new tokens start near the old regular tokens' mean bias (about -2 here), not at 0
    assert float(model.lm_head.decoder.bias[-added:].mean()) < -1.0
    assert not head_drops_bias(model)  # the decoder's own bias is probed, not the head's unused one
    # LoRA's adapter would hold the new input rows only, not the untied output layer's
    lora = replace(config, output=str(tmp_path / "lora"), transformer=replace(config.transformer, lora=True))
    with pytest.raises(ConfigError, match="untied input and output embeddings"):
        adapt_transformer(lora, folder, toy_data(toy), toy["old"][:300])
    with torch.no_grad():
        model.lm_head.decoder.bias.mul_(
            0.01
        )  # small enough to pass for a dropped bias if the wrong one moved
    assert not head_drops_bias(model)


@pytest.mark.parametrize("change", ["pad", "pooler"])
def test_a_base_adapting_would_break_is_refused_before_training(toy, tmp_path, change):
    """Another padding id would train on shifted positions (the batches count them from XLM-R's 1); a pooler
    a masked LM neither loads nor saves would be missing from the adapted model."""
    import shutil

    from xling.artifacts import read_metadata, write_metadata

    folder = shutil.copytree(toy["base"], tmp_path / "base")
    if change == "pad":
        config_file = folder / "config.json"
        config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "pad_token_id": 3}))
        match = "pads with id"
    else:
        write_metadata(folder, {**read_metadata(folder), "pooling": "pooler"})
        match = "pools with its pooler"
    config = settings(toy, tmp_path / "out", model=str(folder))
    with pytest.raises(ConfigError, match=match):
        adapt_transformer(config, folder, toy_data(toy), toy["old"][:300])
    assert not (tmp_path / "out").exists()


def test_the_replace_refusal_says_rows_stay_only_for_a_static_encoder(toy, tiny_static, tmp_path):
    """A transformer's rows do not stay (full training changes every weight, LoRA the biases)."""
    with pytest.raises(ConfigError, match="already has eng.*--replace") as refused:
        adapt(settings(toy, tmp_path / "out", language="eng"))
    assert "stay as they are" not in str(refused.value)
    static = AdaptConfig(model=str(tiny_static), language="eng", text=["-"], output=str(tmp_path / "static"))
    with pytest.raises(ConfigError, match=r"already has eng.*\(the rows it has stay as they are\)"):
        adapt(static)
