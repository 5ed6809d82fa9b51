"""One engine per model per process, shared by every request for that model."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from workers.engine.batching import BatchEngine
from workers.engine.loading import load_model

_engines: dict[int, BatchEngine] = {}  # by id() of the LoadedModel, which load_model keeps alive
_engines_lock = threading.Lock()


def get_engine(
    source: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: Path | None = None,
    max_batch_size: int = 16,
) -> BatchEngine:
    """Return this process's shared engine for ``source``, loading the model on first use.

    Every name for the same model on the same device ("smollm2", its file path)
    gets the same engine. ``cache_dir`` and ``max_batch_size`` only take effect
    on the first call for a model.
    """
    loaded = load_model(source, device=device, dtype=dtype, cache_dir=cache_dir)
    with _engines_lock:
        engine = _engines.get(id(loaded))
        if engine is None or not engine.is_alive:
            engine = _engines[id(loaded)] = BatchEngine(loaded, max_batch_size=max_batch_size)
        return engine


def _forget_engines_in_child() -> None:
    # A forked child (Celery prefork) inherits the registry but not the engine threads.
    global _engines_lock
    _engines.clear()
    _engines_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_engines_in_child)
