"""One decoding step of a Llama-architecture model on the CPU, faster than transformers' forward.

A decoding step feeds one token per row, so every linear layer multiplies a few
rows by a large weight matrix. For that shape MKL's generic GEMM is slow on the
CPU: a batch of 8 cost ~2.2x one row per step (SmolLM2-135M, fp32). MKL can
instead pack a weight matrix once for a given number of rows
(``cblas_sgemm_pack``) and multiply by the packed copy; a step of 8 rows then
costs ~1.4x one row. The packed copy is only valid for that number of rows, so
the weights are packed once, for ``DEFAULT_PACKED_ROWS`` rows: a smaller batch is
padded with zero rows up to it and a larger one runs in slices of it. That one
packed copy is the only copy of the weights the decoder adds, but it costs about
as much memory as the weights again, so by default only a model whose weights are
at most ``ARENA_PACKED_MAX_MB`` is packed (:func:`choose_packing`): on a small model
the copy is cheap and batches gain the most, on a large one the copy is the
difference between fitting in memory and not. The step also fuses the
q/k/v and the gate/up projections into one multiplication each, and the model's
own projections become views of the fused weights. It skips transformers' mask
and position bookkeeping.

The packed operators are private to torch (``torch.ops.mkl``). Each packed
matrix is checked against F.linear when it is made, and if packing or a packed
product fails, the decoder says so in the log (ERROR) and goes on with F.linear.

The arithmetic is the model's own (the same RMSNorm, rotary embedding,
softmax attention and SwiGLU, in the model's dtype), so greedy decoding picks
the same tokens as transformers; only the summation order of the matrix
products differs. Prefill still goes through transformers, and both write the
same key/value cache.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import Cache, PreTrainedModel

logger = logging.getLogger(__name__)

# Rows the weights are packed for: steps of 2 to this many rows are padded up to it, larger steps
# run in slices of it.
DEFAULT_PACKED_ROWS = 8
# Set, ARENA_PACKED_ROWS decides for every model (0: no packed copy). Unset, a float32 model is packed
# for DEFAULT_PACKED_ROWS rows when its weights are at most ARENA_PACKED_MAX_MB (SmolLM2-135M: 513 MB,
# packed; a 1.1B Llama: 4,128 MB, not), and not packed otherwise.
PACKED_ROWS_SETTING = int(os.environ["ARENA_PACKED_ROWS"]) if os.environ.get("ARENA_PACKED_ROWS") else None
PACKED_MAX_MB = float(os.environ.get("ARENA_PACKED_MAX_MB") or 1024)

# MKL's packed GEMM is reached through private operators (torch.ops.mkl), which a torch release may
# change or drop; every use goes through these two names, and any failure falls back to F.linear.
_mkl_reorder = getattr(torch.ops.mkl, "_mkl_reorder_linear_weight", None) if torch.backends.mkl.is_available() \
    else None
_mkl_linear = getattr(torch.ops.mkl, "_mkl_linear", None) if torch.backends.mkl.is_available() else None

try:
    _malloc_trim = ctypes.CDLL(None).malloc_trim  # glibc's; elsewhere nothing to trim
except (OSError, AttributeError):
    _malloc_trim = None


def mkl_packing_available() -> bool:
    return _mkl_reorder is not None and _mkl_linear is not None


@dataclass(frozen=True)
class Packing:
    rows: int  # 0: no packed copy
    reason: str


def choose_packing(*, weights_mb: float, float32: bool, rows_setting: int | None = PACKED_ROWS_SETTING,
                   max_mb: float = PACKED_MAX_MB) -> Packing:
    """Whether to pack a model's weights, for how many rows, and why (for the log).

    ``rows_setting`` is ARENA_PACKED_ROWS (None: unset), which overrides the size rule.
    """
    if not float32:  # MKL packs single-precision matrices only
        return Packing(0, "the weights are not float32")
    if rows_setting is not None:
        if rows_setting > 1:
            return Packing(rows_setting, f"ARENA_PACKED_ROWS={rows_setting}")
        return Packing(0, f"ARENA_PACKED_ROWS={rows_setting}")
    if weights_mb <= max_mb:
        return Packing(DEFAULT_PACKED_ROWS, f"weights {weights_mb:,.0f} MB <= ARENA_PACKED_MAX_MB={max_mb:,.0f}; "
                                            "the packed copy costs about as much memory again")
    return Packing(0, f"weights {weights_mb:,.0f} MB > ARENA_PACKED_MAX_MB={max_mb:,.0f}, where a packed copy "
                      f"would about double the memory; ARENA_PACKED_ROWS={DEFAULT_PACKED_ROWS} packs it anyway")


def weights_mb(model: PreTrainedModel) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


class PackingFailed(RuntimeError):
    """MKL's private packed-GEMM operators are missing, fail, or disagree with F.linear."""


class _Linear:
    """``x @ weight.T`` for a few rows, through one MKL-packed copy of ``weight`` when there is one."""

    def __init__(self, weight: torch.Tensor, rows: int) -> None:
        self.weight = weight
        self.rows = rows
        self.packed = None
        if rows:
            self.packed = _mkl_reorder(weight, rows)
            probe = torch.linspace(-1, 1, rows * weight.shape[1], dtype=weight.dtype).view(rows, -1)
            if not torch.allclose(self(probe), F.linear(probe, weight), rtol=1e-3, atol=1e-3):
                raise PackingFailed("the packed product differs from F.linear")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is None or x.shape[0] % self.rows:
            return F.linear(x, self.weight)
        try:
            if x.shape[0] == self.rows:
                return _mkl_linear(x, self.packed, self.weight, None, self.rows)
            return torch.cat([_mkl_linear(part, self.packed, self.weight, None, self.rows)
                              for part in x.split(self.rows)])
        except Exception as exc:
            raise PackingFailed(f"{type(exc).__name__}: {exc}") from exc

    def unpack(self) -> None:
        self.packed, self.rows = None, 0


class LlamaDecoder:
    """Runs decoding steps for one loaded Llama model; build it with :meth:`for_model`."""

    def __init__(self, model: PreTrainedModel, *, packed_rows: int | None = PACKED_ROWS_SETTING) -> None:
        """``packed_rows`` overrides the size rule as ARENA_PACKED_ROWS does; None: by the weights' size."""
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.intermediate = config.intermediate_size
        self.eps = config.rms_norm_eps
        rotary = model.model.rotary_emb
        self.inv_freq = rotary.inv_freq.float()
        self.rope_scaling = float(rotary.attention_scaling)
        self.embed = model.model.embed_tokens.weight
        self.norm = model.model.norm.weight
        # The fused weights become the model's own: its q/k/v and gate/up projections are views of them,
        # so fusing costs no second copy (prefill still runs through the model's modules).
        fused = []
        for layer in model.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            fused.append((layer.input_layernorm.weight, _fuse(attn.q_proj, attn.k_proj, attn.v_proj),
                          attn.o_proj.weight, layer.post_attention_layernorm.weight,
                          _fuse(mlp.gate_proj, mlp.up_proj), mlp.down_proj.weight))
        # Fusing freed the model's own q/k/v and gate/up weights (about half of them), but glibc keeps
        # freed blocks of that size in its heaps for reuse instead of returning them to the system: a
        # worker serving SmolLM2 unpacked held ~270 MB more until they were trimmed.
        if _malloc_trim is not None:
            _malloc_trim(0)
        lm_head = model.lm_head.weight
        packing = choose_packing(weights_mb=weights_mb(model), float32=model.dtype == torch.float32,
                                 rows_setting=packed_rows)
        self.layers, self.lm_head, self.packed_rows = self._linears(fused, lm_head, packing.rows)
        if self.packed_rows:
            logger.info("CPU decoding step for %s: weights packed for %d rows (%s)", model.name_or_path,
                        self.packed_rows, packing.reason)
        else:
            logger.info("CPU decoding step for %s: weights not packed (%s)", model.name_or_path,
                        packing.reason if not packing.rows else "packing is unavailable or failed, see above")

    def _linears(self, fused: list, lm_head: torch.Tensor, rows: int) -> tuple[list, _Linear, int]:
        """The layers' weights and the head, packed for ``rows`` rows where that works; and the rows."""
        if rows and not mkl_packing_available():
            logger.warning("MKL packed GEMM is not available in this torch (torch.ops.mkl); decoding steps use "
                           "F.linear and run slower for batches")
            rows = 0
        try:
            layers = [(n1, _Linear(qkv, rows), _Linear(o, rows), n2, _Linear(gate_up, rows), _Linear(down, rows))
                      for n1, qkv, o, n2, gate_up, down in fused]
            return layers, _Linear(lm_head, rows), rows
        except Exception as exc:  # a private operator changed under us: never fail the model for it
            if not rows:
                raise
            logger.error("MKL weight packing failed (%s: %s); decoding steps fall back to F.linear and run slower "
                         "for batches", type(exc).__name__, exc)
            return self._linears(fused, lm_head, 0)

    def _fail_over(self, exc: Exception) -> None:
        logger.error("MKL packed GEMM failed during a decoding step (%s); falling back to F.linear for good "
                     "(the packed copy of the weights is freed)", exc)
        for _, *linears in self.layers:
            for linear in linears:
                if isinstance(linear, _Linear):
                    linear.unpack()
        self.lm_head.unpack()
        self.packed_rows = 0

    @classmethod
    def for_model(cls, model: PreTrainedModel, device: torch.device, *,
                  packed_rows: int | None = PACKED_ROWS_SETTING) -> LlamaDecoder | None:
        """The decoder for ``model``, or None when the model needs transformers' own forward."""
        reason = unsupported_reason(model, device)
        if reason:
            logger.info("Decoding through transformers' forward: %s", reason)
            return None
        return cls(model, packed_rows=packed_rows)

    def bucket(self, rows: int) -> int:
        """How many rows a step of ``rows`` rows computes: padded up to a multiple of the packed rows."""
        if rows == 1 or not self.packed_rows:  # one row: the matrix-vector product is as fast, with no padding
            return rows
        return -(-rows // self.packed_rows) * self.packed_rows

    def step(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, cache: Cache) -> torch.Tensor:
        """Feed one token per row and return each row's next-token logits, float32 [rows, vocab].

        ``ids`` and ``positions`` are [rows]; ``mask`` is [rows, columns] (True where a
        cached or the new token is real), the new token's column last; ``cache``
        receives the new keys and values. A failure of the packed operators is logged
        and the step is run again without them.
        """
        if not self.packed_rows:
            return self._step(ids, positions, mask, cache)
        used = cache.get_seq_length()
        try:
            return self._step(ids, positions, mask, cache)
        except PackingFailed as exc:
            for layer in cache.layers:  # forget what the failed step wrote, then run it again unpacked
                if layer.is_initialized and layer.get_seq_length() > used:
                    layer.keys, layer.values = layer.keys[:, :, :used], layer.values[:, :, :used]
            self._fail_over(exc)
            return self._step(ids, positions, mask, cache)

    def _step(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, cache: Cache) -> torch.Tensor:
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
            qkv = qkv_proj(self._rms_norm(x, norm1))[:rows]
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
            x = x + o_proj(attended)
            gate_up = gate_up_proj(self._rms_norm(x, norm2))
            x = x + down_proj(F.silu(gate_up[:, : self.intermediate]) * gate_up[:, self.intermediate :])
        return self.lm_head(self._rms_norm(x, self.norm))[:rows].float()

    def _rms_norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:  # one fused operation instead of seven
            return F.rms_norm(x, weight.shape, weight, self.eps)
        # As LlamaRMSNorm: in float32, then back to the model's dtype before the weight.
        hidden = x.float()
        hidden = hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * hidden.to(x.dtype)


def _fuse(*projections: torch.nn.Linear) -> torch.Tensor:
    """One weight for several projections of the same input, which then hold views of it."""
    fused = torch.cat([p.weight.detach() for p in projections])
    start = 0
    for p in projections:
        end = start + p.weight.shape[0]
        p.weight = torch.nn.Parameter(fused[start:end], requires_grad=False)
        start = end
    return fused


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
