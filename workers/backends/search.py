"""The search-augmented backend: spends test-time compute over a local model (see workers/search)."""

from collections.abc import Callable, Iterator

from arena.models import Backend, ModelEndpoint
from workers.search import SearchConfig, SearchResult, stream_search

from .base import BackendError, Delta, Usage
from .transformers import clean_params as clean_local_params


def clean_params(params: dict) -> dict:
    """``base`` names a transformers endpoint to search over (its model, system prompt, examples and
    template are used), or gives such parameters inline as an object."""
    params = dict(params)
    base = params.pop("base", None)
    if isinstance(base, str):
        _base_endpoint_params(base)  # must exist
    elif isinstance(base, dict):
        base = clean_local_params(base)
    else:
        raise ValueError("base is required: the name of a transformers endpoint to search over "
                         "(or its parameters as an object, e.g. {\"model\": \"smollm2\"}).")
    SearchConfig.from_params(params)  # raises ValueError with a sentence
    return {**params, "base": base}


def _base_endpoint_params(name: str) -> dict:
    endpoint = ModelEndpoint.objects.filter(name=name, backend=Backend.TRANSFORMERS).first()
    if endpoint is None:
        raise ValueError(f"base {name!r} is not the name of a transformers endpoint.")
    return clean_local_params(endpoint.params)


class SearchBackend:
    def __init__(self, params: dict):
        self.params = clean_params(params)
        rest = {k: v for k, v in self.params.items() if k != "base"}
        self.config = SearchConfig.from_params(rest)

    def stream(self, conversation: list[dict], *, should_stop: Callable[[], bool]) -> Iterator[Delta | Usage]:
        from workers.engine import get_engine  # noqa: PLC0415 (torch: not in the web)

        base = self.params["base"]
        if isinstance(base, str):
            base = _base_endpoint_params(base)
        engine = get_engine(base["model"], device=base["device"], dtype=base.get("dtype", "auto"))
        result = None
        try:
            # The answer streams as the search commits to it (best-of-N once it has chosen, see
            # workers/search/strategies); the compute and trace come last, for the reveal after the vote.
            for item in stream_search(self.config, engine=engine, loaded=engine.loaded,
                                      messages=[*base.get("examples", []), *conversation],
                                      should_stop=should_stop, system_prompt=base.get("system_prompt") or None,
                                      chat_template=base.get("chat_template")):
                if isinstance(item, SearchResult):
                    result = item
                else:
                    yield Delta(item)
        except ValueError as exc:
            raise BackendError(str(exc), permanent=True) from None
        yield Usage(completion_tokens=result.answer_tokens, finish_reason=result.finish_reason,
                    compute={**result.compute(), "trace": result.trace}, citations=result.citations)


def build(endpoint, overrides: dict) -> SearchBackend:
    """Only the answer's token cap can be overridden, and only lowered: sampling settings are part of
    the search."""
    if "max_tokens" in overrides:
        own = SearchConfig.from_params({k: v for k, v in endpoint.params.items() if k != "base"}).max_new_tokens
        return SearchBackend({**endpoint.params, "max_new_tokens": min(overrides["max_tokens"], own)})
    return SearchBackend(endpoint.params)
