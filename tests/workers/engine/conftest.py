"""Fixtures for the engine tests: the tiny random model, and the real SmolLM2 converted once per run."""

from __future__ import annotations

import pytest

from workers.engine import BatchEngine, load_model, render_prompt
from workers.engine.loading import converted_gguf_dir, smollm2_gguf_path
from workers.engine.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("engine-tiny") / "model")


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    return load_model(str(tiny_dir), device="cpu")


@pytest.fixture
def tiny_engine(tiny):
    engine = BatchEngine(tiny, max_batch_size=16)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory):
    """A model cache that starts empty, so this run really converts the GGUF (~20 s)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def smollm2_converted(smollm2_cache):
    """The safetensors copy of the shipped GGUF, converted by this run."""
    return converted_gguf_dir(smollm2_gguf_path(), smollm2_cache)


@pytest.fixture(scope="session")
def smollm2(smollm2_converted, smollm2_cache):
    return load_model("smollm2", device="cpu", cache_dir=smollm2_cache)


@pytest.fixture(scope="session")
def smollm2_engine(smollm2):
    engine = BatchEngine(smollm2, max_batch_size=16)
    yield engine
    engine.close()


def chat(loaded, text: str) -> list[int]:
    return render_prompt(loaded.tokenizer, [{"role": "user", "content": text}])
