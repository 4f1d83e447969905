"""Tiny random local answer models, built offline: a LLaVA vision-language model and a chat LLM.

Each directory loads through the same ``from_pretrained(path)`` call as a real
checkpoint (config, safetensors, a tokenizer trained here, a chat template, and for
the VLM an image processor). Random weights: tests check the plumbing (prompt and
images reach the model, tokens stream back, stops cut), never answer quality.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = [
    "You answer questions using only the numbered sources. Cite [1] [2]. Question: Answer:",
    "<source n=1 name=report.pdf page=2> Total 2023 revenue: $4.2M </source> system user assistant",
    "The crane lifted 42 tonnes. Das Wasserwerk förderte 3,7 Millionen Kubikmeter.",
]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"]
SPECIAL += ["<|image_pad|>", "<|video_pad|>"]

# Qwen2-VL's template, trimmed to what the answer step sends (system and user turns, text and images).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tokenizer(chat: bool, extra: list[str] | None = None) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL + (extra or []),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=1024
    )
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_llava(path: Path) -> Path:
    """A 2-layer LLaVA (CLIP vision tower, Qwen2 text model) with its processor and a chat template.

    LLaVA stands in for the Qwen2-VL family here: in this transformers version Qwen2-VL's
    processor needs torchvision for its video half, which the CPU install does not carry.
    The answer step takes both through the same AutoProcessor / AutoModelForImageTextToText path.
    """
    import torch
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    fast = _tokenizer(chat=True, extra=["<image>"])
    image_token = fast.convert_tokens_to_ids("<image>")
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}, do_center_crop=True
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=fast,
        patch_size=14,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<image>"),
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    text = {
        "model_type": "qwen2",
        "vocab_size": len(fast),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 1024,
        "eos_token_id": fast.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": fast.convert_tokens_to_ids("<|endoftext|>"),
    }
    vision = {
        "model_type": "clip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 28,
        "patch_size": 14,
        "projection_dim": 32,
    }
    config = LlavaConfig(
        text_config=text,
        vision_config=vision,
        image_token_index=image_token,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = text["eos_token_id"]
    model.generation_config.pad_token_id = text["pad_token_id"]
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def build_chat_llm(path: Path, *, chat: bool = True) -> Path:
    """A 2-layer Qwen2 causal LM; ``chat=False`` leaves out the chat template (a base model)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    fast = _tokenizer(chat=chat)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
