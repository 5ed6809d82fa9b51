"""One decoding step of a Llama-architecture model on the CPU, faster than transformers' forward.

A decoding step feeds one token per row, so every linear layer multiplies a few
rows by a large weight matrix. For that shape MKL's generic GEMM is slow on the
CPU: a batch of 8 cost ~2.2x one row per step (SmolLM2-135M, fp32). MKL can
instead pack a weight matrix once for a given number of rows
(``cblas_sgemm_pack``) and multiply by the packed copy; a step of 8 rows then
costs ~1.4x one row. The packed copy is only valid for that number of rows, so
weights are packed for a few row counts ("buckets") and a batch is padded with
zero rows up to the next bucket. The step also fuses the q/k/v and the
gate/up projections into one multiplication each, and skips transformers'
mask and position bookkeeping.

The arithmetic is the model's own (the same RMSNorm, rotary embedding,
softmax attention and SwiGLU, in the model's dtype), so greedy decoding picks
the same tokens as transformers; only the summation order of the matrix
products differs. Prefill still goes through transformers, and both write the
same key/value cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import Cache, PreTrainedModel

logger = logging.getLogger(__name__)

# Row counts weights are packed for; a batch of up to 16 rows is padded to the next one.
# Each bucket holds one more copy of the weights (540 MB for SmolLM2-135M in fp32).
PACKED_BUCKETS = (4, 8, 16)


def mkl_packing_available() -> bool:
    return torch.backends.mkl.is_available() and hasattr(torch.ops.mkl, "_mkl_linear")


class _Linear:
    """``x @ weight.T`` for a few rows, through MKL-packed copies of ``weight`` where there are any."""

    def __init__(self, weight: torch.Tensor, buckets: tuple[int, ...]) -> None:
        self.weight = weight.contiguous()
        self.packed = {rows: torch.ops.mkl._mkl_reorder_linear_weight(self.weight, rows) for rows in buckets}

    def __call__(self, x: torch.Tensor, bucket: int) -> torch.Tensor:
        packed = self.packed.get(bucket)
        if packed is None:
            return F.linear(x, self.weight)
        return torch.ops.mkl._mkl_linear(x, packed, self.weight, None, bucket)


class LlamaDecoder:
    """Runs decoding steps for one loaded Llama model; build it with :meth:`for_model`."""

    def __init__(self, model: PreTrainedModel, *, max_rows: int) -> None:
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.intermediate = config.intermediate_size
        self.eps = config.rms_norm_eps
        dtype = model.dtype
        buckets: tuple[int, ...] = ()
        if dtype == torch.float32 and mkl_packing_available():
            # Only the buckets a batch of max_rows can use; one more past it would never be filled.
            buckets = tuple(b for b in PACKED_BUCKETS if b < max_rows) + tuple(
                b for b in PACKED_BUCKETS if b >= max_rows
            )[:1]
        self.buckets = buckets
        rotary = model.model.rotary_emb
        self.inv_freq = rotary.inv_freq.float()
        self.rope_scaling = float(rotary.attention_scaling)
        self.embed = model.model.embed_tokens.weight
        self.layers = []
        for layer in model.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            self.layers.append(
                (
                    layer.input_layernorm.weight,
                    _Linear(torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]), buckets),
                    _Linear(attn.o_proj.weight, buckets),
                    layer.post_attention_layernorm.weight,
                    _Linear(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]), buckets),
                    _Linear(mlp.down_proj.weight, buckets),
                )
            )
        self.norm = model.model.norm.weight
        self.lm_head = _Linear(model.lm_head.weight, buckets)

    @classmethod
    def for_model(cls, model: PreTrainedModel, device: torch.device, *, max_rows: int) -> LlamaDecoder | None:
        """The decoder for ``model``, or None when the model needs transformers' own forward."""
        reason = unsupported_reason(model, device)
        if reason:
            logger.info("Decoding through transformers' forward: %s", reason)
            return None
        return cls(model, max_rows=max_rows)

    def bucket(self, rows: int) -> int:
        """How many rows a step of ``rows`` rows computes (padded up to a packed size), or ``rows``."""
        if rows == 1:  # one row: the plain matrix-vector product is as fast, and needs no padding
            return 1
        return next((b for b in self.buckets if b >= rows), rows)

    def step(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, cache: Cache) -> torch.Tensor:
        """Feed one token per row and return each row's next-token logits, float32 [rows, vocab].

        ``ids`` and ``positions`` are [rows]; ``mask`` is [rows, columns] (True where a
        cached or the new token is real), the new token's column last; ``cache``
        receives the new keys and values.
        """
        rows = ids.shape[0]
        bucket = self.bucket(rows)
        x = self.embed[ids]
        if bucket > rows:
            x = torch.cat([x, x.new_zeros(bucket - rows, x.shape[1])])
        freqs = positions.float()[:, None] * self.inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        cos = (angles.cos() * self.rope_scaling).to(x.dtype)[:, None, None, :]
        sin = (angles.sin() * self.rope_scaling).to(x.dtype)[:, None, None, :]
        hidden_mask = torch.zeros(mask.shape, dtype=x.dtype, device=x.device).masked_fill_(~mask, float("-inf"))
        hidden_mask = hidden_mask[:, None, None, :]
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        k_end = (heads + kv_heads) * dim
        scaling = dim**-0.5
        for i, (norm1, qkv_proj, o_proj, norm2, gate_up_proj, down_proj) in enumerate(self.layers):
            qkv = qkv_proj(self._rms_norm(x, norm1), bucket)[:rows]
            # Queries and keys rotate together: one set of operations per layer, not two.
            qk = _rotate(qkv[:, :k_end].view(rows, heads + kv_heads, 1, dim), cos, sin)
            v = qkv[:, k_end:].view(rows, kv_heads, 1, dim)
            keys, values = cache.layers[i].update(qk[:, heads:], v)
            # Query heads grouped by the key/value head they share: [rows, kv_heads, group, dim].
            scores = torch.matmul(qk[:, :heads].view(rows, kv_heads, heads // kv_heads, dim), keys.transpose(2, 3))
            weights = torch.softmax(scores * scaling + hidden_mask, dim=-1, dtype=torch.float32)
            if weights.dtype != x.dtype:
                weights = weights.to(x.dtype)
            attended = torch.matmul(weights, values).reshape(rows, heads * dim)
            if bucket > rows:
                attended = torch.cat([attended, attended.new_zeros(bucket - rows, attended.shape[1])])
            x = x + o_proj(attended, bucket)
            gate_up = gate_up_proj(self._rms_norm(x, norm2), bucket)
            x = x + down_proj(F.silu(gate_up[:, : self.intermediate]) * gate_up[:, self.intermediate :], bucket)
        return self.lm_head(self._rms_norm(x, self.norm), bucket)[:rows].float()

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
    ("biased projections", lambda m: not m.config.attention_bias and not getattr(m.config, "mlp_bias", False)),
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
