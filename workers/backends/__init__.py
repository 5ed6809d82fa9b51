"""Backends turn a conversation into a stream of text pieces. One module per backend kind."""

from .base import Backend, BackendError, Delta, Usage
from .registry import get_backend, validate_params

__all__ = ["Backend", "BackendError", "Delta", "Usage", "get_backend", "validate_params"]
