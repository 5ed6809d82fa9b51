"""Weight files of the trained verifiers: a NumPy .npz of one weight vector and JSON metadata.

No pickled objects, so loading a file cannot run code.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np


def save_weights(path: str | Path, weights: np.ndarray, meta: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
        np.savez(f, weights=weights, meta=np.array(json.dumps(meta)))
    return path


def load_weights(path: str | Path, *, what: str) -> tuple[np.ndarray, dict]:
    """(weights, metadata); ValueError "<path> is not <what>." for anything else."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return np.asarray(data["weights"], dtype=np.float64), json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path} is not {what}.") from exc


_cache: dict[tuple[str, str, int], object] = {}
_lock = threading.Lock()


def load_cached(path: str | Path, loader):
    """loader(path), loaded once per file version in this process (workers score many requests with one file)."""
    path = Path(path)
    key = (getattr(loader, "__qualname__", repr(loader)), str(path.resolve()), path.stat().st_mtime_ns)
    with _lock:
        if key not in _cache:
            _cache[key] = loader(path)
        return _cache[key]
