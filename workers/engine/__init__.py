"""Local-model inference: load a model once, then batch concurrent requests on it."""

from workers.engine.batching import BatchEngine, Completion, Delta, EngineError, EngineStats, Stream, get_engine
from workers.engine.chat import render_prompt
from workers.engine.loading import LoadedModel, load_model
from workers.engine.sampling import SamplingParams

__all__ = [
    "BatchEngine",
    "Completion",
    "Delta",
    "EngineError",
    "EngineStats",
    "LoadedModel",
    "SamplingParams",
    "Stream",
    "get_engine",
    "load_model",
    "render_prompt",
]
