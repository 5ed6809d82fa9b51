from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ratings.preference_pairs import preference_pairs
from workers.search import train_reward_model


class Command(BaseCommand):
    help = ("Train the reward verifier of search-augmented models on the arena's own votes: a Bradley-Terry "
            "head on all-MiniLM embeddings of (prompt, answer); prints held-out pairwise accuracy.")

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(Path(settings.ARENA["MODEL_CACHE"]) / "reward-model.npz"))
        parser.add_argument("--heldout", type=float, default=0.2, help="fraction of pairs held out for accuracy")
        parser.add_argument("--limit", type=int, help="use at most this many votes")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **o):
        pairs = list(preference_pairs(limit=o["limit"]))
        self.stdout.write(f"{len(pairs)} preference pairs from decisive anonymous votes; embedding and fitting…")
        try:
            model, accuracy = train_reward_model(pairs, heldout_fraction=o["heldout"], seed=o["seed"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        path = model.save(o["output"])
        self.stdout.write(f"held-out pairwise accuracy {accuracy:.3f} on {len(pairs) - model.trained_pairs} pairs; "
                          f"saved to {path}")
        self.stdout.write(f'use it with a search endpoint: "verifiers": {{"reward": 1}}, "reward_model": "{path}"')
