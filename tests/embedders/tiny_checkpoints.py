"""Tiny random checkpoints of the full-size model families, built offline.

Each builder writes a directory that loads through the same ``from_pretrained(path)``
call users make: config, safetensors weights, a tokenizer trained here with the
``tokenizers`` library (no download) and, for visual models, an image processor config.
Sizes are the smallest the architectures accept (2 layers, hidden 32) so the CPU
tests stay fast; the weights are random, so tests check shapes, dtypes, normalisation
and asymmetry, never retrieval quality.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pagerag.ingest.types import Page

CORPUS = [
    "Describe the image. Query: Question: Passage: what is the revenue in 2023 chart page",
    "Quarterly report: total revenue grew by 12 percent; the table shows costs and profit.",
    "Der Umsatz stieg im Jahr 2023. Le chiffre d'affaires a augmenté. Slide notes and figures.",
]
QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"]
QWEN_SPECIAL += ["<|image_pad|>", "<|video_pad|>"]


def _bpe(special: list[str], *, byte_level: bool, vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if byte_level:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        alphabet = []
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=alphabet, show_progress=False
    )
    tok.train_from_iterator(CORPUS * 3, trainer)
    return tok


def build_colqwen2(path: Path, *, backbone: str = "qwen2_vl", embedding_dim: int = 16) -> Path:
    """A 2-layer ColQwen2 (Qwen2-VL backbone) or ColQwen2.5 (``backbone="qwen2_5_vl"``)."""
    import torch
    from transformers import (
        ColQwen2Config,
        ColQwen2ForRetrieval,
        ColQwen2Processor,
        PreTrainedTokenizerFast,
        Qwen2VLImageProcessor,
    )

    tok = _bpe(QWEN_SPECIAL, byte_level=True, vocab_size=320)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    image_processor = Qwen2VLImageProcessor(
        min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16, patch_size=14, temporal_patch_size=2, merge_size=2
    )
    processor = ColQwen2Processor(image_processor=image_processor, tokenizer=fast)
    ids = {t: tok.token_to_id(t) for t in QWEN_SPECIAL}
    text = {
        "vocab_size": tok.get_vocab_size(),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 512,
        "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
        "bos_token_id": None,
        "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision: dict[str, Any] = {"depth": 2, "hidden_size": 32, "num_heads": 2, "patch_size": 14}
    vision |= {"spatial_merge_size": 2, "temporal_patch_size": 2}
    if backbone == "qwen2_vl":
        vision |= {"embed_dim": 32, "mlp_ratio": 2}
    else:
        vision |= {
            "intermediate_size": 64,
            "out_hidden_size": 32,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        }
    vlm = {
        "model_type": backbone,
        "text_config": text,
        "vision_config": vision,
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    torch.manual_seed(0)
    model = ColQwen2ForRetrieval(ColQwen2Config(vlm_config=vlm, embedding_dim=embedding_dim))
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def build_colpali(path: Path, *, embedding_dim: int = 16) -> Path:
    """A 2-layer ColPali (PaliGemma: SigLIP 28 px / 14 px patches -> 2x2 image tokens, Gemma text)."""
    import torch
    from transformers import (
        ColPaliConfig,
        ColPaliForRetrieval,
        ColPaliProcessor,
        PreTrainedTokenizerFast,
        SiglipImageProcessor,
    )

    tok = _bpe(["<pad>", "<eos>", "<bos>", "<unk>", "<image>"], byte_level=False, vocab_size=200)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )
    image_processor = SiglipImageProcessor(size={"height": 28, "width": 28}, image_seq_length=4)
    processor = ColPaliProcessor(image_processor=image_processor, tokenizer=fast)
    vocab = len(processor.tokenizer)
    text = {"model_type": "gemma", "vocab_size": vocab, "hidden_size": 32, "intermediate_size": 64}
    text |= {"num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16}
    vision = {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64}
    vision |= {"num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 28, "patch_size": 14}
    vlm = {"model_type": "paligemma", "vocab_size": vocab, "image_token_index": processor.image_token_id}
    vlm |= {"hidden_size": 32, "projection_dim": 32, "text_config": text, "vision_config": vision}
    torch.manual_seed(0)
    model = ColPaliForRetrieval(ColPaliConfig(vlm_config=vlm, embedding_dim=embedding_dim))
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def bert_vocab(extra: tuple[str, ...] = ()) -> list[str]:
    """A WordPiece vocabulary: specials, markers, the words of the corpus and their characters."""
    words = {w.strip(".,;:?'").lower() for line in CORPUS for w in line.split()}
    chars = {c for line in CORPUS for c in line.lower() if not c.isspace()}
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused1]", *extra]
    return specials + sorted(w for w in words if w) + sorted(chars) + sorted("##" + c for c in chars)


def save_bert_tokenizer(path: Path, vocab: list[str]) -> None:
    """A BERT WordPiece tokenizer from a vocabulary list (no training, no download)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    fast.save_pretrained(path)


def build_bert(path: Path, *, vocab: list[str] | None = None, hidden: int = 32) -> Path:
    """A 2-layer BertModel with its tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    vocab = vocab or bert_vocab()
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    save_bert_tokenizer(path, vocab)
    return path


def build_colbert(path: Path, *, layout: str = "linear", dim: int = 128, hidden: int = 32) -> Path:
    """A tiny ColBERT: BERT + a linear projection to ``dim``.

    ``layout="linear"``: the projection is ``linear.weight`` inside ``model.safetensors``
    next to ``bert.*`` (the colbert-ai / jina-colbert-v2 layout). ``layout="dense"``: a
    sentence-transformers/PyLate ``1_Dense`` module directory.
    """
    import torch
    from safetensors.torch import load_file, save_file

    build_bert(path, vocab=bert_vocab(("[QueryMarker]", "[DocumentMarker]")), hidden=hidden)
    torch.manual_seed(1)
    weight = torch.randn(dim, hidden) / hidden**0.5
    if layout == "linear":
        weights = {f"bert.{k}": v for k, v in load_file(path / "model.safetensors").items()}
        weights["linear.weight"] = weight
        save_file(weights, path / "model.safetensors", metadata={"format": "pt"})
    else:
        dense = path / "1_Dense"
        dense.mkdir()
        save_file({"linear.weight": weight}, dense / "model.safetensors")
        config = {"in_features": hidden, "out_features": dim, "bias": False}
        (dense / "config.json").write_text(json.dumps(config | {"activation_function": "torch.nn.Identity"}))
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
        ]
        (path / "modules.json").write_text(json.dumps(modules))
    return path


def build_sentence_transformer(path: Path) -> Path:
    """A sentence-transformers model (tiny BERT + mean pooling + normalise) with query/document prompts."""
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:
        from sentence_transformers import models  # type: ignore[no-redef]

    build_bert(path / "bert")
    word = models.Transformer(str(path / "bert"), max_seq_length=64)
    width = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    pooling = models.Pooling(width(), pooling_mode="mean")
    st = SentenceTransformer(
        modules=[word, pooling, models.Normalize()],
        prompts={"query": "query: ", "document": "passage: "},
        device="cpu",
    )
    st.save(str(path / "st"))
    return path / "st"


def make_pages(directory: Path, count: int = 3) -> list[Page]:
    """Pages with random images of different sizes and short texts."""
    rng = np.random.default_rng(0)
    pages = []
    sizes = [(140, 100), (80, 160), (120, 120), (100, 90)]
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        image = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        image_path = directory / f"page{i + 1}.png"
        image.save(image_path)
        text = CORPUS[i % len(CORPUS)]
        pages.append(Page("doc", "report.pdf", i + 1, count, text, image_path=image_path))
    return pages


# The stand-in for jina-embeddings-v4's hub code (modeling_jina_embeddings_v4.py), which is
# not available offline. It has the real model's public surface: encode_text(texts, task,
# max_length, batch_size, return_multivector, return_numpy, truncate_dim, prompt_name),
# encode_image(images, task, batch_size, return_multivector, return_numpy, truncate_dim,
# max_pixels), a ``processor`` with process_texts(texts, max_length, prefix) and
# process_images(images), and a forward(task_label, **inputs) returning both
# ``single_vec_emb`` (2048-d, normalised) and ``multi_vec_emb`` (128-d per token).
# It is loaded as custom code from the checkpoint directory (auto_map +
# trust_remote_code), the same path that loads jina's code from the hub.
JINA_STANDIN_CODE = """
from dataclasses import dataclass
import numpy as np
import torch
import torch.nn.functional as F
from transformers import PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

MATRYOSHKA_DIMS = [128, 256, 512, 1024, 2048]
PREFIX = {"query": "Query", "passage": "Passage"}


class StandInConfig(PretrainedConfig):
    model_type = "jina_v4_standin"

    def __init__(self, hidden=32, single_dim=2048, multi_dim=128, with_processor=True, **kwargs):
        self.hidden = hidden
        self.single_dim = single_dim
        self.multi_dim = multi_dim
        self.with_processor = with_processor
        super().__init__(**kwargs)


@dataclass
class StandInOutput(ModelOutput):
    single_vec_emb: torch.Tensor = None
    multi_vec_emb: torch.Tensor = None


class StandInProcessor:
    def process_texts(self, texts, max_length=8192, prefix=None, padding=None):
        texts = [f"{prefix}: {t}" if prefix else t for t in texts]
        ids = [list(t.encode("utf-8"))[:max_length] or [0] for t in texts]
        n = max(len(i) for i in ids)
        input_ids = torch.zeros(len(ids), n, dtype=torch.long)
        mask = torch.zeros(len(ids), n, dtype=torch.long)
        for k, row in enumerate(ids):
            input_ids[k, : len(row)] = torch.tensor(row)
            mask[k, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def process_images(self, images, max_pixels=None):
        pixels = [torch.tensor(np.asarray(im.convert("RGB").resize((16, 16)), dtype=np.float32) / 255.0)
                  for im in images]
        patches = torch.stack(pixels).reshape(len(images), 4, 4, 4, 4, 3).permute(0, 1, 3, 2, 4, 5)
        patches = patches.reshape(len(images), 16, 48)
        return {"pixel_values": patches, "attention_mask": torch.ones(len(images), 16, dtype=torch.long),
                "input_ids": torch.full((len(images), 16), 256)}


class StandInModel(PreTrainedModel):
    config_class = StandInConfig
    base_model_prefix = "standin"

    def __init__(self, config):
        super().__init__(config)
        self.tokens = torch.nn.Embedding(257, config.hidden)
        self.pixels = torch.nn.Linear(48, config.hidden)
        self.task_bias = torch.nn.Embedding(3, config.hidden)
        self.single = torch.nn.Linear(config.hidden, config.single_dim)
        self.multi = torch.nn.Linear(config.hidden, config.multi_dim)
        self.post_init()
        if config.with_processor:
            self.processor = StandInProcessor()
        self._encoder = StandInProcessor()
        self.calls = 0

    def _init_weights(self, module):
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(module.weight, std=0.5)

    def forward(self, task_label, input_ids=None, attention_mask=None, pixel_values=None, **kwargs):
        self.calls += 1
        task = {"retrieval": 0, "text-matching": 1, "code": 2}[task_label]
        if pixel_values is not None:
            hidden = self.pixels(pixel_values.to(self.pixels.weight.dtype))
        else:
            hidden = self.tokens(input_ids)
        hidden = torch.tanh(hidden.cumsum(dim=1) / 4 + self.task_bias.weight[task])
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        single = F.normalize(self.single(pooled), dim=-1)
        multi = F.normalize(self.multi(hidden), dim=-1) * mask
        return StandInOutput(single_vec_emb=single, multi_vec_emb=multi)

    def _encode(self, inputs, task, batch_size, return_multivector, return_numpy, truncate_dim):
        if task is None:
            raise ValueError("task must be given")
        if truncate_dim is not None and truncate_dim not in MATRYOSHKA_DIMS:
            raise ValueError(f"truncate_dim must be one of {MATRYOSHKA_DIMS}")
        with torch.no_grad():
            out = self(task_label=task, **inputs)
        if not return_multivector:
            emb = out.single_vec_emb
            if truncate_dim is not None:
                emb = F.normalize(emb[:, :truncate_dim], dim=-1)
            return emb.numpy() if return_numpy else list(emb)
        valid = inputs["attention_mask"].bool()
        return [m[v] for m, v in zip(out.multi_vec_emb, valid)]

    def encode_text(self, texts, task=None, max_length=32768, batch_size=8, return_multivector=False,
                    return_numpy=False, truncate_dim=None, prompt_name=None):
        texts = [texts] if isinstance(texts, str) else texts
        inputs = self._encoder.process_texts(texts, max_length, PREFIX[prompt_name or "query"])
        return self._encode(inputs, task, batch_size, return_multivector, return_numpy, truncate_dim)

    def encode_image(self, images, task=None, batch_size=8, return_multivector=False, return_numpy=False,
                     truncate_dim=None, max_pixels=None):
        images = images if isinstance(images, list) else [images]
        inputs = self._encoder.process_images(images, max_pixels)
        return self._encode(inputs, task, batch_size, return_multivector, return_numpy, truncate_dim)
"""


def build_jina_v4_standin(path: Path, *, with_processor: bool = True) -> Path:
    """A checkpoint whose model code is the stand-in above, loaded with ``trust_remote_code``."""
    import importlib.util
    import sys

    path.mkdir(parents=True, exist_ok=True)
    code = path / "modeling_standin.py"
    code.write_text(JINA_STANDIN_CODE)
    spec = importlib.util.spec_from_file_location(f"_standin_{abs(hash(str(path)))}", code)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    config = module.StandInConfig(with_processor=with_processor)
    config.auto_map = {
        "AutoConfig": "modeling_standin.StandInConfig",
        "AutoModel": "modeling_standin.StandInModel",
    }
    module.torch.manual_seed(0)
    module.StandInModel(config).save_pretrained(path)
    return path
