from . import openai, search, transformers
from .base import Backend

MODULES = {"transformers": transformers, "openai": openai, "search": search}


def validate_params(backend: str, params: dict) -> dict:
    """Return cleaned parameters, or raise ValueError with a sentence saying what is wrong."""
    if not isinstance(params, dict):
        raise ValueError("Parameters must be a JSON object.")
    if backend not in MODULES:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {', '.join(sorted(MODULES))}.")
    return MODULES[backend].clean_params(params)


def get_backend(endpoint, overrides: dict | None = None) -> Backend:
    """``overrides`` are per-request sampling settings (the OpenAI API's), checked like the rest."""
    return MODULES[endpoint.backend].build(endpoint, overrides or {})
