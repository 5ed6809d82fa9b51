from importlib import import_module
from types import ModuleType

from .base import Backend

# Each backend's module is imported when first used: the search backend brings the search package
# and its models' code, which a process that never serves or checks that kind (every manage.py
# command, through the admin's endpoint form) should not pay for at start-up.
MODULES = {"transformers": "workers.backends.transformers", "openai": "workers.backends.openai",
           "search": "workers.backends.search"}


def backend_module(backend: str) -> ModuleType:
    return import_module(MODULES[backend])


def validate_params(backend: str, params: dict) -> dict:
    """Return cleaned parameters, or raise ValueError with a sentence saying what is wrong."""
    if not isinstance(params, dict):
        raise ValueError("Parameters must be a JSON object.")
    if backend not in MODULES:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {', '.join(sorted(MODULES))}.")
    return backend_module(backend).clean_params(params)


def get_backend(endpoint, overrides: dict | None = None) -> Backend:
    """``overrides`` are per-request sampling settings (the OpenAI API's), checked like the rest."""
    return backend_module(endpoint.backend).build(endpoint, overrides or {})
