import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.engine.batching import BatchEngine
from workers.engine.loading import load_model
from workers.search.config import SearchConfig
from workers.search.outcome_model import train_outcome_model
from workers.search.outcome_training import read_tasks, sample_labelled


class Command(BaseCommand):
    help = ("Train the outcome verifier of search-augmented models (Cobbe et al. 2021): sample the base model's "
            "answers to questions with known answers, label each right or wrong, fit a logistic verifier; "
            "prints held-out accuracy on questions it did not see.")

    def add_arguments(self, parser):
        parser.add_argument("--tasks", required=True,
                            help='JSON lines of {"question": ..., "answer": ...} with exact answers')
        parser.add_argument("--model", default="smollm2", help="the base model's source, as its endpoint names it")
        parser.add_argument("--params", default='{"n": 8, "temperature": 0.6, "max_new_tokens": 128}',
                            help="the search endpoint's sampling parameters, as JSON (n, temperature, calculator, ...)")
        parser.add_argument("--system", help="system prompt the endpoint uses")
        parser.add_argument("--dtype", default="auto")
        parser.add_argument("--output", default=str(Path(settings.ARENA["MODEL_CACHE"]) / "outcome-model.npz"))
        parser.add_argument("--heldout", type=float, default=0.2, help="fraction of questions held out")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **o):
        try:
            tasks = read_tasks(o["tasks"])
            params = json.loads(o["params"])
        except OSError as exc:
            raise CommandError(f"Cannot read {o['tasks']}: {exc.strerror}.") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not JSON: {exc.msg}.") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not isinstance(params, dict):
            raise CommandError("--params must be a JSON object.")
        try:  # before the model loads: a typo should not cost a minute
            SearchConfig.from_params({**params, "strategy": "majority", "verifiers": {}})
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"loading {o['model']}…")
        loaded = load_model(o["model"], dtype=o["dtype"])
        engine = BatchEngine(loaded, max_batch_size=16)
        started = time.perf_counter()

        def progress(done, total, right):
            self.stdout.write(f"[{done}/{total}] {right} right  ({time.perf_counter() - started:.0f} s)")

        try:
            samples = sample_labelled(engine, loaded, tasks, params, system_prompt=o["system"], progress=progress)
            model, accuracy = train_outcome_model(samples, heldout_fraction=o["heldout"], seed=o["seed"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        finally:
            engine.close()
        path = model.save(o["output"])
        right = sum(y for _, _, y in samples)
        self.stdout.write(f"{len(samples)} samples, {right} right; held-out accuracy {accuracy:.3f}; saved to {path}")
        self.stdout.write(f'use it with a search endpoint: "verifiers": {{"outcome": 1}}, "outcome_model": "{path}"')
