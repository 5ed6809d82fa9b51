from .base import Backend


def _modules():
    from . import openai, search, transformers

    return {"transformers": transformers, "openai": openai, "search": search}


def validate_params(backend: str, params: dict) -> dict:
    """Return cleaned parameters, or raise ValueError with a sentence saying what is wrong."""
    if not isinstance(params, dict):
        raise ValueError("Parameters must be a JSON object.")
    modules = _modules()
    if backend not in modules:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {', '.join(sorted(modules))}.")
    return modules[backend].clean_params(params)


def get_backend(endpoint, overrides: dict | None = None) -> Backend:
    """``overrides`` are per-request sampling settings (the OpenAI API's), checked like the rest."""
    return _modules()[endpoint.backend].build(endpoint, overrides or {})
