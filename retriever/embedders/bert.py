"""A BERT encoder in plain torch, for the packaged small models (e5-small, all-MiniLM-L6-v2).

Both default models are post-LayerNorm BERT encoders with absolute positions from 0.
Running them here instead of through transformers' ``BertModel`` gives the same numbers
(tests compare the two) and keeps ``import transformers`` (about 3.5 s and 130 MiB on
this machine) out of every process that only uses the defaults: a one-shot
``pagerag search`` starts seconds sooner. The full-size models still go through
transformers.

Weights are taken in transformers' key names (``embeddings.word_embeddings.weight``,
``encoder.layer.0.attention.self.query.weight``, ...), so a checkpoint's
``model.safetensors`` loads as it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import ModelError


@dataclass(frozen=True, slots=True)
class BertShape:
    """The sizes of a BERT encoder.

    Attributes:
        hidden: width of the hidden states.
        layers: transformer layers.
        heads: attention heads.
        intermediate: width of the feed-forward layer.
        eps: LayerNorm epsilon.
    """

    hidden: int
    layers: int
    heads: int
    intermediate: int
    eps: float = 1e-12

    @classmethod
    def from_config(cls, path: Path) -> BertShape:
        """Reads a transformers ``config.json`` of a BERT model (absolute positions, GELU)."""
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
            shape = cls(
                hidden=int(config["hidden_size"]),
                layers=int(config["num_hidden_layers"]),
                heads=int(config["num_attention_heads"]),
                intermediate=int(config["intermediate_size"]),
                eps=float(config.get("layer_norm_eps", 1e-12)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: not a readable BERT config: {exc}") from exc
        act = config.get("hidden_act", "gelu")
        positions = config.get("position_embedding_type", "absolute")
        if act != "gelu" or positions != "absolute":
            raise ModelError(
                f"{path}: a BERT with hidden_act={act!r} and position_embedding_type={positions!r};"
                " the token model takes GELU with absolute positions"
            )
        return shape


def build_bert(shape: BertShape, state: Mapping[str, Any], *, word_table: bool = True) -> Any:
    """The encoder as an eval-mode ``torch.nn.Module`` holding ``state``.

    Args:
        shape: the model's sizes.
        state: tensors by transformers' key names (a ``bert.`` prefix is dropped; pooler and
            position-id buffers are ignored).
        word_table: True: the module takes token ids and looks up its own word table;
            False: it takes word embeddings (the caller holds the table).

    Returns:
        A module ``forward(x, mask=None) -> (batch, seq, hidden)`` last hidden states;
        ``mask`` (batch, seq) marks real tokens with 1 (None: no padding).
    """
    import torch

    tensors = {_our_name(k.removeprefix("bert.")): v for k, v in state.items()}
    try:
        word = tensors["word.weight"] if word_table else None
        module = _module_class()(shape, tensors["position"], tensors["token_type"], word)
    except KeyError as exc:
        raise ModelError(f"BERT weights have no {exc.args[0]!r} tensor") from exc
    wanted = module.state_dict()
    got = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in tensors.items() if k in wanted}
    missing = sorted(set(wanted) - set(got))
    if missing:
        raise ModelError(f"BERT weights are missing {len(missing)} tensors, e.g. {missing[:3]}")
    try:
        module.load_state_dict(got, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"BERT weights do not fit {shape}: {exc}") from exc
    module.train(False)
    return module


def _our_name(key: str) -> str:
    """transformers' parameter name -> this module's."""
    fixed = {
        "embeddings.word_embeddings.weight": "word.weight",
        "embeddings.position_embeddings.weight": "position",
        "embeddings.token_type_embeddings.weight": "token_type",
        "embeddings.LayerNorm.weight": "norm.weight",
        "embeddings.LayerNorm.bias": "norm.bias",
    }
    if key in fixed:
        return fixed[key]
    parts = {
        "attention.self.query": "query",
        "attention.self.key": "key",
        "attention.self.value": "value",
        "attention.output.dense": "attn_out",
        "attention.output.LayerNorm": "attn_norm",
        "intermediate.dense": "ff_in",
        "output.dense": "ff_out",
        "output.LayerNorm": "ff_norm",
    }
    if key.startswith("encoder.layer."):
        layer, _, rest = key.removeprefix("encoder.layer.").partition(".")
        module, _, param = rest.rpartition(".")
        if module in parts:
            return f"layers.{layer}.{parts[module]}.{param}"
    return key


@functools.cache
def _module_class() -> Any:
    """The module class, made at first use (torch is imported then, not at import)."""
    import torch
    from torch import nn
    from torch.nn import functional

    class Layer(nn.Module):
        def __init__(self, shape: BertShape) -> None:
            super().__init__()
            h = shape.hidden
            self.heads = shape.heads
            self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
            self.attn_out = nn.Linear(h, h)
            self.attn_norm = nn.LayerNorm(h, eps=shape.eps)
            self.ff_in = nn.Linear(h, shape.intermediate)
            self.ff_out = nn.Linear(shape.intermediate, h)
            self.ff_norm = nn.LayerNorm(h, eps=shape.eps)

        def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
            batch, seq, hidden = x.shape
            split = (batch, seq, self.heads, hidden // self.heads)
            q = self.query(x).view(split).transpose(1, 2)
            k = self.key(x).view(split).transpose(1, 2)
            v = self.value(x).view(split).transpose(1, 2)
            a = functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = self.attn_norm(x + self.attn_out(a.transpose(1, 2).reshape(batch, seq, hidden)))
            out: torch.Tensor = self.ff_norm(x + self.ff_out(functional.gelu(self.ff_in(x))))
            return out

    class Bert(nn.Module):
        def __init__(self, shape: BertShape, position: Any, token_type: Any, word: Any) -> None:
            super().__init__()
            self.word = None if word is None else nn.Embedding(*word.shape)
            self.position = nn.Parameter(torch.zeros(*position.shape), requires_grad=False)
            self.token_type = nn.Parameter(torch.zeros(*token_type.shape), requires_grad=False)
            self.norm = nn.LayerNorm(shape.hidden, eps=shape.eps)
            self.layers = nn.ModuleList(Layer(shape) for _ in range(shape.layers))

        def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
            if self.word is not None:
                x = self.word(x)
            x = self.norm(x + self.position[: x.shape[1]] + self.token_type[0])
            keys = None if mask is None else mask[:, None, None, :].to(torch.bool)
            for layer in self.layers:
                x = layer(x, keys)
            return x

    return Bert
