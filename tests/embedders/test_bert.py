"""The plain-torch BERT encoder against transformers' BertModel, and the traced query path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pagerag.ingest.errors import ModelError
from pagerag.retriever.embedders.bert import BertShape, build_bert
from pagerag.retriever.embedders.frozen import FrozenForward

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def tiny_bert(**overrides: Any) -> Any:
    config = transformers.BertConfig(
        vocab_size=97,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        **overrides,
    )
    torch.manual_seed(0)
    return transformers.BertModel(config, add_pooling_layer=False).eval(), config


def test_same_states_as_transformers_with_and_without_padding(tmp_path: Path) -> None:
    reference, config = tiny_bert()
    config.save_pretrained(tmp_path)
    ours = build_bert(BertShape.from_config(tmp_path / "config.json"), reference.state_dict())
    ids = torch.randint(1, 97, (3, 20))
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 12:] = 0
    mask[2, 3:] = 0
    with torch.inference_mode():
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask)
        alone = ours(ids[2:, :3])
    for row, n in enumerate((20, 12, 3)):
        np.testing.assert_allclose(got[row, :n].numpy(), want[row, :n].numpy(), atol=1e-5)
    np.testing.assert_allclose(alone[0].numpy(), want[2, :3].numpy(), atol=1e-5)


def test_word_embeddings_can_come_from_outside() -> None:
    reference, _ = tiny_bert()
    shape = BertShape(hidden=32, layers=2, heads=4, intermediate=64)
    state = {k: v for k, v in reference.state_dict().items() if "word_embeddings" not in k}
    ours = build_bert(shape, state, word_table=False)
    ids = torch.randint(1, 97, (1, 9))
    embeds = reference.embeddings.word_embeddings(ids)
    with torch.inference_mode():
        np.testing.assert_allclose(
            ours(embeds).numpy(), reference(input_ids=ids).last_hidden_state.numpy(), atol=1e-5
        )


def test_wrong_configs_and_weights_are_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 32, "num_hidden_layers": 2}))
    with pytest.raises(ModelError, match="not a readable BERT config"):
        BertShape.from_config(tmp_path / "config.json")
    _, config = tiny_bert(hidden_act="relu")
    config.save_pretrained(tmp_path)
    with pytest.raises(ModelError, match="hidden_act='relu'"):
        BertShape.from_config(tmp_path / "config.json")
    reference, _ = tiny_bert()
    state = {k: v for k, v in reference.state_dict().items() if "layer.1.output.dense" not in k}
    with pytest.raises(ModelError, match="missing 2 tensors"):
        build_bert(BertShape(hidden=32, layers=2, heads=4, intermediate=64), state)
    with pytest.raises(ModelError, match="do not fit"):
        build_bert(BertShape(hidden=32, layers=2, heads=4, intermediate=48), reference.state_dict())


def test_frozen_forward_runs_eager_first_then_traced_with_the_same_numbers() -> None:
    reference, _ = tiny_bert()
    ours = build_bert(BertShape(hidden=32, layers=2, heads=4, intermediate=64), reference.state_dict())
    forward = FrozenForward(ours)
    short, long = torch.randint(1, 97, (1, 5)), torch.randint(1, 97, (1, 17))
    with torch.inference_mode():
        first = forward(short)
        assert forward._frozen is None  # one-shot processes never pay for tracing
        second, third = forward(short), forward(long)
        assert isinstance(forward._frozen, torch.jit.ScriptModule)
        np.testing.assert_allclose(second.numpy(), first.numpy(), atol=1e-6)
        np.testing.assert_allclose(third.numpy(), ours(long).numpy(), atol=1e-5)


def test_frozen_forward_falls_back_to_the_module_when_tracing_fails() -> None:
    class Untraceable(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return {"not": "a tensor"}  # the tracer takes tensors only

    module = Untraceable()
    forward = FrozenForward(module, eager_calls=0)
    assert forward(torch.zeros(1, 2)) == {"not": "a tensor"}
    assert forward._frozen is module


def test_a_token_model_folder_without_its_files_is_named(tmp_path: Path) -> None:
    from pagerag.retriever.embedders.minilm import _load_model, _load_tokenizer

    with pytest.raises(ModelError, match=r"tokenizer\.json: the tokenizer could not be read"):
        _load_tokenizer(tmp_path)
    with pytest.raises(ModelError, match=r"pytorch_model\.bin: the token model's weights could not be read"):
        _load_model(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match=r"pytorch_model\.bin"):
        _load_model(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match=r"model\.safetensors"):
        _load_model(tmp_path)


def test_a_checkpoint_with_pytorch_bin_weights_loads(tmp_path: Path) -> None:
    from pagerag.retriever.embedders.minilm import _load_model

    reference, config = tiny_bert()
    config.save_pretrained(tmp_path)
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    ids = torch.randint(1, 97, (1, 7))
    with torch.inference_mode():
        np.testing.assert_allclose(
            _load_model(tmp_path)(ids).numpy(), reference(input_ids=ids).last_hidden_state.numpy(), atol=1e-5
        )
