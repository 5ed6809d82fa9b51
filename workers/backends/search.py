"""The search-augmented backend: spends test-time compute over a local model (see workers/search)."""

from collections.abc import Callable, Iterator

from .base import BackendError, Delta, Usage
from .transformers import clean_params as clean_local_params


def clean_params(params: dict) -> dict:
    from workers.search.config import SearchConfig

    params = dict(params)
    base = params.pop("base", None)
    if not isinstance(base, dict):
        raise ValueError("base is required: the parameters of the local model to search over, e.g. {\"model\": \"smollm2\"}.")
    SearchConfig.from_params(params)  # raises ValueError with a sentence
    return {**params, "base": clean_local_params(base)}


class SearchBackend:
    def __init__(self, params: dict):
        from workers.search.config import SearchConfig

        self.params = clean_params(params)
        rest = {k: v for k, v in self.params.items() if k != "base"}
        self.config = SearchConfig.from_params(rest)

    def stream(self, conversation: list[dict], *, should_stop: Callable[[], bool]) -> Iterator[Delta | Usage]:
        from workers.engine.batching import get_engine
        from workers.engine.loading import load_model
        from workers.search import run_search

        base = self.params["base"]
        loaded = load_model(base["model"], device=base["device"])
        engine = get_engine(base["model"], device=base["device"])
        try:
            result = run_search(self.config, engine=engine, loaded=loaded, messages=conversation,
                                should_stop=should_stop, system_prompt=base.get("system_prompt") or None)
        except ValueError as exc:
            raise BackendError(str(exc), permanent=True) from None
        # The answer arrives at once: streaming partial candidates would show that this side searches.
        yield Delta(result.text, result.answer_tokens)
        yield Usage(completion_tokens=result.answer_tokens, compute=result.compute())


def build(endpoint, overrides: dict) -> SearchBackend:
    return SearchBackend(endpoint.params)
