"""Hybrid passage retrieval: BM25 (bm25s) and MiniLM embeddings, fused by reciprocal rank.

BM25 finds exact identifiers ("bisect_left", "width=70"); embeddings find paraphrases
("round a number down"). Reciprocal rank fusion needs no score calibration between
the two, which is why it is used instead of adding scores.

The index is cached on disk under a key derived from the corpus contents, so a worker
builds it once per corpus version and every later request loads it in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from .config import DEMO_CORPUS
from .corpus import DEMO_MODULES, Passage, build_pydoc_corpus, load_documents, split_passages
from .embeddings import NAME as ENCODER_NAME
from .embeddings import get_encoder

INDEX_VERSION = 1
RRF_K = 60
# When a passage counts as relevant to a question, so that an answer may be given it and cite it.
# Reciprocal rank fusion ranks but does not say how good the best passage is (every question has a
# first passage), so relevance is read from the absolute scores: the MiniLM cosine similarity, or
# a lower one backed by BM25 (the question's words in the passage). Calibrated on the demo corpus
# with 20 questions it covers and 20 it does not: the passages that answer the first reach 0.40,
# or 0.30 with a BM25 score of 3; for arithmetic, chit-chat and general knowledge no passage of the
# top 3 passes (the best reaches 0.24, or 0.36 with BM25 1.9 for "Explain recursion").
# tests/workers/search/test_relevance.py checks both kinds on part of that corpus.
RELEVANT_SIMILARITY = 0.40
SUPPORTED_SIMILARITY = 0.30
SUPPORTING_BM25 = 3.0
REPO_ROOT = Path(__file__).resolve().parents[2]

_loaded: dict[tuple, PassageIndex] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # the fused rank score: orders the hits of one question only
    bm25_rank: int | None
    dense_rank: int
    similarity: float = 0.0  # cosine similarity of the question's and the passage's embeddings
    bm25: float = 0.0  # the passage's BM25 score for the question

    @property
    def relevant(self) -> bool:
        return self.similarity >= RELEVANT_SIMILARITY or (
            self.similarity >= SUPPORTED_SIMILARITY and self.bm25 >= SUPPORTING_BM25)

    def to_json(self) -> dict:
        return {**self.passage.to_json(), "score": round(self.score, 6),
                "bm25_rank": self.bm25_rank, "dense_rank": self.dense_rank,
                "similarity": round(self.similarity, 4), "bm25": round(self.bm25, 4), "relevant": self.relevant}


def default_cache_dir() -> Path:
    return Path(os.environ.get("ARENA_SEARCH_CACHE") or REPO_ROOT / ".state" / "search")


def demo_corpus_dir(cache_dir: Path | None = None) -> Path:
    return build_pydoc_corpus((cache_dir or default_cache_dir()) / "pydoc-corpus", DEMO_MODULES)


def _stemmer():
    return Stemmer.Stemmer("english")


def _tokenize(texts: list[str], *, return_ids: bool = True):
    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=return_ids, show_progress=False)


class PassageIndex:
    def __init__(self, passages: list[Passage], embeddings: np.ndarray, bm25):
        self.passages = passages
        self.embeddings = embeddings
        self.bm25 = bm25

    @classmethod
    def build(cls, passages: list[Passage]) -> PassageIndex:
        if not passages:
            raise ValueError("The corpus has no passages: add .txt, .md or .html files to it.")
        texts = [_indexed_text(p) for p in passages]
        bm25 = bm25s.BM25()
        bm25.index(_tokenize(texts), show_progress=False)
        embeddings = get_encoder().encode(texts)
        return cls(passages, embeddings, bm25)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(directory / "bm25"), show_progress=False)
        np.save(directory / "embeddings.npy", self.embeddings)
        with open(directory / "passages.json", "w", encoding="utf-8") as f:
            json.dump([p.to_json() for p in self.passages], f)

    @classmethod
    def load(cls, directory: Path) -> PassageIndex:
        with open(directory / "passages.json", encoding="utf-8") as f:
            passages = [Passage.from_json(d) for d in json.load(f)]
        embeddings = np.load(directory / "embeddings.npy")
        bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        return cls(passages, embeddings, bm25)

    def search(self, query: str, *, top_k: int = 3) -> list[Hit]:
        n = len(self.passages)
        fused = np.zeros(n)
        bm25_rank = np.full(n, -1)
        scores = np.zeros(n)
        words = [w for w in _tokenize([query], return_ids=False)[0] if w in self.bm25.vocab_dict]
        if words:
            scores = self.bm25.get_scores(words)
            matched = np.flatnonzero(scores > 0)
            order = matched[np.argsort(-scores[matched], kind="stable")]
            bm25_rank[order] = np.arange(len(order))
            fused[order] += 1.0 / (RRF_K + 1 + np.arange(len(order)))
        query_vector = get_encoder().encode([query])[0]
        similarity = self.embeddings @ query_vector
        dense_order = np.argsort(-similarity, kind="stable")
        dense_rank = np.empty(n, dtype=int)
        dense_rank[dense_order] = np.arange(n)
        fused += 1.0 / (RRF_K + 1 + dense_rank)
        best = np.argsort(-fused, kind="stable")[:top_k]
        return [Hit(self.passages[i], float(fused[i]), None if bm25_rank[i] < 0 else int(bm25_rank[i]),
                    int(dense_rank[i]), float(similarity[i]), float(scores[i])) for i in best]


def _indexed_text(passage: Passage) -> str:
    return f"{passage.title}\n{passage.text}"


def corpus_key(passages: list[Passage]) -> str:
    digest = hashlib.sha256(f"v{INDEX_VERSION}|{ENCODER_NAME}|".encode())
    for p in passages:
        digest.update(f"{p.source}\0{p.title}\0{p.text}\0".encode())
    return digest.hexdigest()[:24]


def open_index(corpus: str | Path, *, cache_dir: str | Path | None = None) -> PassageIndex:
    """The index of a corpus folder ("pydoc" for the demo corpus), built on first use and cached."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    with _lock:
        if str(corpus) == DEMO_CORPUS:
            # The standard library does not change under a running process.
            memo = (str(cache), DEMO_CORPUS)
            if memo not in _loaded:
                _loaded[memo] = _open(demo_corpus_dir(cache), cache)
            return _loaded[memo]
        # Re-reading a folder per request is cheap to avoid: its files' sizes and times say if it changed.
        folder = Path(corpus)
        memo = (str(cache), str(folder.resolve()), _folder_signature(folder))
        if memo not in _loaded:
            _loaded[memo] = _open(folder, cache)
        return _loaded[memo]


def _open(folder: Path, cache: Path) -> PassageIndex:
    passages = split_passages(load_documents(folder))
    key = corpus_key(passages)
    target = cache / "index" / key
    if (target / "passages.json").exists():
        return PassageIndex.load(target)
    index = PassageIndex.build(passages)
    # Write aside and rename, so a second worker never reads a half-written index.
    (cache / "index").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache / "index"))
    index.save(scratch)
    try:
        scratch.rename(target)
    except OSError:  # another worker got there first; its copy is the same
        shutil.rmtree(scratch, ignore_errors=True)
    return index


def _folder_signature(folder: Path) -> tuple:
    return tuple(sorted((str(p), s.st_size, s.st_mtime_ns) for p in folder.rglob("*")
                        if p.is_file() and (s := p.stat())))
