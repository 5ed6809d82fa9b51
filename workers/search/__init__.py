"""The search-augmented model: spend test-time compute over a local model to get a better answer.

Entry points: `stream_search(SearchConfig.from_params(...), engine=..., loaded=..., messages=...)`, which
yields the answer in pieces as the search commits to it and then the SearchResult, `run_search` (the
same arguments) for the result alone,
`train_reward_model(pairs)` for the reward verifier, and `train_outcome_model(samples)` for the
outcome verifier (samples from `outcome_training.sample_labelled`).
"""

from .config import SearchConfig
from .outcome_model import OutcomeModel, train_outcome_model
from .result import SearchResult
from .reward_model import RewardModel, train_reward_model
from .runner import run_search, stream_search

__all__ = ["OutcomeModel", "RewardModel", "SearchConfig", "SearchResult", "run_search", "stream_search",
           "train_outcome_model", "train_reward_model"]
