"""One decoding step of a Llama-architecture model on the CPU, faster than transformers' forward.

A decoding step feeds one token per row. Transformers' forward spends much of such a step on
bookkeeping (masks, positions, module calls) rather than arithmetic; this step runs the same
arithmetic directly: it skips the mask and position machinery and rotates queries and keys in
one go. The weights are the model's own modules, packed for oneDNN where the model was loaded on
the CPU in float32 (``packed_linear``): prefill (through transformers) and this step share them,
so the decoder adds no copy of any weight.

The arithmetic is the model's own (the same RMSNorm, rotary embedding, softmax attention and
SwiGLU, in the model's dtype), so greedy decoding picks the same tokens as transformers; only the
summation order of the matrix products differs. Both write the same key/value cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import Cache, PreTrainedModel

logger = logging.getLogger(__name__)


class LlamaDecoder:
    """Runs decoding steps for one loaded Llama model; build it with :meth:`for_model`."""

    def __init__(self, model: PreTrainedModel) -> None:
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.eps = config.rms_norm_eps
        rotary = model.model.rotary_emb
        self.inv_freq = rotary.inv_freq.float()
        self.rope_scaling = float(rotary.attention_scaling)
        self.embed = model.model.embed_tokens.weight
        self.norm = model.model.norm.weight
        self.layers = [(layer.input_layernorm.weight, layer.self_attn, layer.post_attention_layernorm.weight,
                        layer.mlp) for layer in model.model.layers]
        self.lm_head = model.lm_head

    @classmethod
    def for_model(cls, model: PreTrainedModel, device: torch.device) -> LlamaDecoder | None:
        """The decoder for ``model``, or None when the model needs transformers' own forward."""
        reason = unsupported_reason(model, device)
        if reason:
            logger.info("Decoding through transformers' forward: %s", reason)
            return None
        return cls(model)

    def step(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, cache: Cache) -> torch.Tensor:
        """Feed one token per row and return each row's next-token logits, float32 [rows, vocab].

        ``ids`` and ``positions`` are [rows]; ``mask`` is [rows, columns] (True where a
        cached or the new token is real), the new token's column last; ``cache``
        receives the new keys and values.
        """
        rows = ids.shape[0]
        x = self.embed[ids]
        freqs = positions.float()[:, None] * self.inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        cos = (angles.cos() * self.rope_scaling).to(x.dtype)[:, None, None, :]
        sin = (angles.sin() * self.rope_scaling).to(x.dtype)[:, None, None, :]
        hidden_mask = torch.zeros(mask.shape, dtype=x.dtype, device=x.device).masked_fill_(~mask, float("-inf"))
        hidden_mask = hidden_mask[:, None, None, :]
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        scaling = dim**-0.5
        for i, (norm1, attn, norm2, mlp) in enumerate(self.layers):
            h = self._rms_norm(x, norm1)
            # Queries and keys rotate together: one set of operations per layer, not two.
            qk = torch.cat((attn.q_proj(h), attn.k_proj(h)), dim=1).view(rows, heads + kv_heads, 1, dim)
            qk = _rotate(qk, cos, sin)
            v = attn.v_proj(h).view(rows, kv_heads, 1, dim)
            keys, values = cache.layers[i].update(qk[:, heads:], v)
            # Query heads grouped by the key/value head they share: [rows, kv_heads, group, dim].
            scores = torch.matmul(qk[:, :heads].view(rows, kv_heads, heads // kv_heads, dim), keys.transpose(2, 3))
            weights = torch.softmax(scores * scaling + hidden_mask, dim=-1, dtype=torch.float32)
            if weights.dtype != x.dtype:
                weights = weights.to(x.dtype)
            x = x + attn.o_proj(torch.matmul(weights, values).reshape(rows, heads * dim))
            h = self._rms_norm(x, norm2)
            x = x + mlp.down_proj(F.silu(mlp.gate_proj(h)) * mlp.up_proj(h))
        return self.lm_head(self._rms_norm(x, self.norm)).float()

    def _rms_norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:  # one fused operation instead of seven
            return F.rms_norm(x, weight.shape, weight, self.eps)
        # As LlamaRMSNorm: in float32, then back to the model's dtype before the weight.
        hidden = x.float()
        hidden = hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * hidden.to(x.dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


_CHECKS: tuple[tuple[str, Callable[[PreTrainedModel], bool]], ...] = (
    ("not a LlamaForCausalLM", lambda m: type(m).__name__ == "LlamaForCausalLM"),
    ("rotary scaling other than the default", lambda m: _rope_type(m.config) == "default"),
    ("an activation other than SiLU", lambda m: m.config.hidden_act == "silu"),
    ("tensor-parallel pretraining layout", lambda m: getattr(m.config, "pretraining_tp", 1) == 1),
)


def unsupported_reason(model: PreTrainedModel, device: torch.device) -> str | None:
    if device.type != "cpu":  # on a GPU a batch already costs about one row; transformers' forward is fine
        return f"device {device}"
    for reason, check in _CHECKS:
        if not check(model):
            return reason
    return None


def _rope_type(config) -> str:
    parameters = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return parameters.get("rope_type", parameters.get("type", "default"))
