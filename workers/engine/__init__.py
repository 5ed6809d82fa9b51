"""Local-model inference: load a model once, then batch concurrent requests on it."""

from workers.engine.batching import BatchEngine, EngineStats
from workers.engine.chat import render_prompt
from workers.engine.loading import LoadedModel, load_model
from workers.engine.registry import get_engine
from workers.engine.request import EngineError, Rewrite
from workers.engine.running_batch import RunningBatch
from workers.engine.stream import Completion, EngineDelta, Stream
from workers.engine.token_sampling import SamplingParams

__all__ = [
    "BatchEngine",
    "Completion",
    "EngineDelta",
    "EngineError",
    "EngineStats",
    "LoadedModel",
    "Rewrite",
    "RunningBatch",
    "SamplingParams",
    "Stream",
    "get_engine",
    "load_model",
    "render_prompt",
]
