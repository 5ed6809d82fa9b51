from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Delta:
    text: str
    tokens: int = 0


@dataclass
class Usage:
    """Yielded once, last, by backends that know more than the text (token counts, compute spent)."""

    completion_tokens: int | None = None
    finish_reason: str | None = None
    compute: dict = field(default_factory=dict)
    # The sources the answer cites as [n] ({n, title, source} each): shown beside the text, never in it.
    citations: list[dict] = field(default_factory=list)


class BackendError(Exception):
    """A failure worth showing to staff in plain words; ``permanent`` means retrying will not help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Backend(Protocol):
    def stream(self, conversation: list[dict], *, should_stop: Callable[[], bool]) -> Iterator[Delta | Usage]: ...
