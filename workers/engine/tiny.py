"""A tiny, randomly initialised chat model for fast tests.

It is a real Llama-architecture model directory (config, safetensors weights,
byte-level BPE tokenizer, ChatML chat template) that ``load_model`` loads like
any other, in well under a second. Its text is gibberish. Its output layer
gives special tokens and tokens that are not printable ASCII zero logits while
other tokens' logits spread widely (std ~3), so it writes printable ASCII and
practically never ends a turn by itself: a request runs to max_new_tokens.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog while the cat sleeps in the sun.",
    "Hello! How can I help you today? Here is a short answer to your question.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
    "Write a haiku about the sea: waves fold into foam, salt wind carries the gull home.",
    "user assistant system: think step by step, then answer clearly and briefly.",
]
SEED = 1234


def build_tiny_model(path: Path) -> Path:
    """Write the tiny model to ``path`` (unless it is already there) and return ``path``."""
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    if path.is_dir() and any(path.iterdir()):
        raise FileExistsError(f"{path} exists and is not a tiny model directory.")
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tiny-", dir=path.parent))
    try:
        _write(scratch)
        if path.is_dir():
            path.rmdir()  # an empty directory, e.g. pytest's tmp_path
        os.rename(scratch, path)
    except FileExistsError:
        shutil.rmtree(scratch, ignore_errors=True)  # another process won the race
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return path


def _write(out: Path) -> None:
    tokenizer = _build_tokenizer()
    never_sampled = [
        i for i in range(len(tokenizer)) if i in tokenizer.all_special_ids or not _is_plain_text(tokenizer.decode([i]))
    ]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    generator = torch.Generator().manual_seed(SEED)
    with torch.device("cpu"):
        model = LlamaForCausalLM(config)
    with torch.no_grad():
        # Large enough weights that the output depends on the context, not just on noise.
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
        # Hidden states leave the final norm with length ~8, so this spreads logits by ~3.
        head = model.lm_head.weight
        head.copy_(torch.randn(head.shape, generator=generator) * 0.375)
        head[never_sampled] = 0.0
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _is_plain_text(text: str) -> bool:
    return bool(text) and text.isascii() and text.isprintable()


def _build_tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
