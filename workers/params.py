"""Checks for an endpoint's parameters, shared by the backends and the search configuration.

Each raises ValueError with a sentence a person can act on.
"""


def number(params: dict, key: str, default, *, low=None, high=None, kind=float):
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{key} must be a number, not {value!r}.")
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, not {value!r}.") from None
    if kind is float and value != value:
        raise ValueError(f"{key} must be a number, not NaN.")
    if low is not None and value < low or high is not None and value > high:
        raise ValueError(f"{key} must be between {low} and {high}, not {value}.")
    return value


def text(params: dict, key: str, default: str | None = None, *, max_length: int = 20_000) -> str | None:
    value = params.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text, not {value!r}.")
    if len(value) > max_length:
        raise ValueError(f"{key} is longer than {max_length} characters.")
    return value


def examples(params: dict, key: str = "examples", *, max_pairs: int = 8, max_length: int = 4_000) -> list[dict]:
    """Worked examples an endpoint puts before every conversation: user and assistant turns in
    turn, starting with the user's and ending with the assistant's (few-shot prompting)."""
    value = params.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list of {{\"role\", \"content\"}} turns, not {value!r}.")
    if len(value) % 2 or len(value) > 2 * max_pairs:
        raise ValueError(f"{key} must hold pairs of a user turn and an assistant turn, at most {max_pairs} pairs; "
                         f"it has {len(value)} turns.")
    turns = []
    for i, turn in enumerate(value):
        role = "user" if i % 2 == 0 else "assistant"
        if not isinstance(turn, dict) or set(turn) != {"role", "content"} or turn["role"] != role:
            raise ValueError(f"{key}[{i}] must be {{\"role\": \"{role}\", \"content\": \"...\"}}: "
                             "user and assistant turns in turn, starting with the user's.")
        turns.append({"role": role, "content": text(turn, "content", max_length=max_length) or ""})
    return turns


def refuse_unknown(params: dict, known: set[str], backend: str) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"Unknown parameter(s) for the {backend} backend: {', '.join(unknown)}. "
                         f"Known: {', '.join(sorted(known))}.")
