"""Linear layers whose only copy of the weight is oneDNN's packed layout (CPU, float32).

Serving multiplies a few rows (one token per request in a decoding step) by every weight
matrix, a shape for which torch's generic product on the CPU is slow: it reads the whole
matrix at well under the memory's speed. oneDNN (torch's ``mkldnn``) can reorder a weight once
into its own blocked layout; a product of any number of rows with the reordered weight then
runs at about the memory's speed. Measured on this project's machine (2 AVX2 cores, float32),
for the products of one SmolLM2-135M decoding step (30 layers and the head, each matrix read
once per step):

    rows                           1        8       16      128 (a prefill)
    F.linear                   42 ms    61 ms    80 ms   234 ms
    MKL's packed GEMM (before)     -    66 ms        -        -
    oneDNN's packed layout     24 ms    24 ms    31 ms   146 ms

The reordered weight holds the same numbers in the same space (oneDNN pads a matrix up to whole
blocks, 64 outputs by 16 inputs on this CPU; SmolLM2 and the usual Llama shapes need no padding),
so it *replaces* the weight: :func:`pack_linears` swaps every ``nn.Linear`` of a loaded model for a
:class:`PackedLinear` and the dense weight is freed. Prefill through transformers' forward and
the decoder's own step (``llama_decode``) then both run through the packed weights, and the model
holds one copy of its weights. A head tied to the input embedding (SmolLM2's) is the exception:
the embedding must stay dense for the lookup, so packing the head would hold its numbers twice.
By default it stays dense with the embedding; ``ARENA_PACKED_WEIGHTS=all`` packs it as well
(SmolLM2: +108 MB, a decoding step of 8 rows 56 -> 46 ms).

The operators are private to torch (``torch.ops.mkldnn``, what torch.compile's CPU backend uses
for frozen linear layers), so every packed matrix is checked against F.linear when it is made,
and if packing fails the model keeps its dense weights. If a packed product ever fails, the
error is logged (ERROR) and every packed layer of the model goes back to its dense weight,
recovered exactly from the packed one; that product is then computed with F.linear, so no
answer sees the failure.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

SETTINGS = {
    "1": "the linear layers of float32 models on the CPU, except a head tied to the input embedding",
    "all": "as 1, and a tied head too: its packed copy is a second copy of the embedding, for a faster head",
    "0": "none: every model keeps its dense weights (F.linear)",
}


def packing_setting(value: str | None) -> str:
    """ARENA_PACKED_WEIGHTS: unset or empty is "1"; anything but the SETTINGS is refused with a sentence."""
    value = (value or "1").strip().lower()
    if value not in SETTINGS:
        raise ValueError(f"ARENA_PACKED_WEIGHTS={value!r} is not one of " + ", ".join(
            f"{key!r} ({meaning})" for key, meaning in SETTINGS.items()) + ".")
    return value


PACKING_SETTING = packing_setting(os.environ.get("ARENA_PACKED_WEIGHTS"))
# oneDNN picks its blocked layout for this many rows; products of any number of rows use that layout
# (measured: the layout picked for 8 rows ran 1-256 rows as fast as one picked for each number).
ROWS_HINT = 8

# Every use of the private operators goes through these names.
_reorder = getattr(torch.ops.mkldnn, "_reorder_linear_weight", None) if torch.backends.mkldnn.is_available() \
    else None
_linear = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
_nbytes = getattr(torch.ops.mkldnn, "_nbytes", None)  # for the log and the memory bench only

try:
    _malloc_trim = ctypes.CDLL(None).malloc_trim  # glibc's; elsewhere nothing to trim
except (OSError, AttributeError):
    _malloc_trim = None


def packing_available() -> bool:
    return _reorder is not None and _linear is not None


class PackingFailed(RuntimeError):
    """oneDNN's private operators are missing, fail, or disagree with F.linear."""


@dataclass(frozen=True)
class Packing:
    layers: int  # nn.Linear modules packed; 0: none
    packed_mb: float
    reason: str  # why not, or what the packing costs


class _Model:
    """The packed layers of one model, which fall back to their dense weights together."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.layers: list[PackedLinear] = []
        self.failed = False
        self._lock = threading.Lock()

    def fail_over(self, exc: Exception) -> None:
        with self._lock:
            if self.failed:
                return
            logger.error("A packed product failed for %s (%s: %s); every layer goes back to its dense weight "
                         "(F.linear) for good", self.name, type(exc).__name__, exc)
            for layer in self.layers:
                layer.unpack()
            self.failed = True


class PackedLinear(torch.nn.Module):
    """``F.linear(x, weight, bias)`` where the module keeps only oneDNN's packed copy of ``weight``."""

    def __init__(self, linear: torch.nn.Linear, model: _Model) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bias = linear.bias
        self.weight: torch.Tensor | None = None  # dense again only after a failure (unpack)
        weight = linear.weight.detach()
        try:
            self.packed = _reorder(weight, ROWS_HINT)
            probe = torch.linspace(-1, 1, 3 * self.in_features, dtype=weight.dtype).view(3, -1)
            ours, theirs = _linear(probe, self.packed, self.bias, "none", [], ""), F.linear(probe, weight, self.bias)
        except Exception as exc:
            raise PackingFailed(f"{type(exc).__name__}: {exc}") from exc
        if not torch.allclose(ours, theirs, rtol=1e-3, atol=1e-3):
            raise PackingFailed(f"the packed product of a {tuple(weight.shape)} weight differs from F.linear")
        self._model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self.packed
        if packed is not None:
            try:
                return _linear(x, packed, self.bias, "none", [], "")
            except Exception as exc:  # nothing was written: the same product, densely, is the answer
                self._model.fail_over(exc)
        return F.linear(x, self.weight, self.bias)

    def unpack(self) -> None:
        """Go back to the dense weight, recovered exactly from the packed copy, which is then freed."""
        if self.packed is not None:
            self.weight = self.packed.to_dense()
            self.packed = None

    @property
    def packed_bytes(self) -> int:
        if self.packed is None:
            return 0
        return _nbytes(self.packed) if _nbytes is not None else self.in_features * self.out_features * 4

    def extra_repr(self) -> str:
        state = "packed" if self.packed is not None else "dense"
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, " \
               f"{state}"


def pack_linears(model: torch.nn.Module, device: torch.device, *, setting: str = PACKING_SETTING) -> Packing:
    """Replace the ``nn.Linear`` layers of ``model`` by :class:`PackedLinear` ones where that works; log what.

    ``setting`` is one of SETTINGS. Only float32 models on the CPU are packed, and a head that
    shares its weight with the input embedding only with "all". If any layer fails to pack,
    none is: the model keeps its dense weights and the failure is logged at ERROR.
    """
    name = getattr(model, "name_or_path", type(model).__name__)
    dtype = next(model.parameters()).dtype
    reason = _not_packed_reason(device, dtype, setting)
    if reason:
        logger.info("Weights of %s not packed: %s", name, reason)
        return Packing(0, 0.0, reason)
    owner = _Model(name)
    tied = _tied_head(model)
    # Names, not modules: a replaced layer's dense weight is freed as soon as it is swapped out, so
    # packing never holds a second copy of more than one matrix.
    places = [(parent, child_name) for parent in model.modules()
              for child_name, child in parent.named_children()
              if isinstance(child, torch.nn.Linear) and (child is not tied or setting == "all")]
    for parent, child_name in places:
        try:
            layer = PackedLinear(getattr(parent, child_name), owner)
        except PackingFailed as exc:
            for done in owner.layers:  # back to dense, as after a failed product
                done.unpack()
            logger.error("Packing the weights of %s failed (%s); it keeps its dense weights (F.linear) and runs "
                         "slower", name, exc)
            return Packing(0, 0.0, f"packing failed: {exc}")
        setattr(parent, child_name, layer)
        owner.layers.append(layer)
    packed = owner.layers
    if _malloc_trim is not None:  # the dense weights were freed; glibc would keep the blocks for reuse
        _malloc_trim(0)
    packed_mb = sum(layer.packed_bytes for layer in packed) / 2**20
    cost = f"{packed_mb:,.0f} MB packed, which replace the dense weights"
    if tied is not None:
        tied_mb = tied.weight.numel() * tied.weight.element_size() / 2**20
        cost += (f"; the head is tied to the input embedding, which stays dense for the lookup, so its packed copy "
                 f"is a second one ({tied_mb:,.0f} MB, ARENA_PACKED_WEIGHTS=all)" if setting == "all" else
                 f"; the head is tied to the input embedding and stays dense with it ({tied_mb:,.0f} MB; "
                 "ARENA_PACKED_WEIGHTS=all packs a second copy of it, for a faster head)")
    logger.info("Weights of %s packed for oneDNN: %d linear layers, %s", name, len(packed), cost)
    return Packing(len(packed), packed_mb, cost)


def _not_packed_reason(device: torch.device, dtype: torch.dtype, setting: str) -> str | None:
    if setting == "0":
        return "ARENA_PACKED_WEIGHTS=0"
    if device.type != "cpu":
        return f"device {device} (packing is for the CPU)"
    if dtype != torch.float32:
        return f"the weights are {dtype}, not float32"
    if not packing_available():
        return "this torch has no oneDNN (torch.backends.mkldnn)"
    return None


def _tied_head(model: torch.nn.Module) -> torch.nn.Linear | None:
    """The model's head, where it shares its weight with the input embedding."""
    head = getattr(model, "get_output_embeddings", lambda: None)()
    embedding = getattr(model, "get_input_embeddings", lambda: None)()
    if isinstance(head, torch.nn.Linear) and embedding is not None and head.weight is embedding.weight:
        return head
    return None
