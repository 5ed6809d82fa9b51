"""The search-augmented model: spend test-time compute over a local model to get a better answer.

Entry points: `run_search(SearchConfig.from_params(...), engine=..., loaded=..., messages=...)`
and `train_reward_model(pairs)` for the reward verifier.
"""

from .config import SearchConfig
from .result import SearchResult
from .reward_model import RewardModel, train_reward_model
from .runner import run_search

__all__ = ["RewardModel", "SearchConfig", "SearchResult", "run_search", "train_reward_model"]
