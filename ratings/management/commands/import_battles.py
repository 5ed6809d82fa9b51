from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from arena.models import Arena, Backend, Battle, Message, Mode, ModelEndpoint, Status, Turn, Vote
from arena.votes import rating_columns
from ratings.battle_arrays import CHOICE_CODE, WINNER_CODES
from ratings.battle_files import read_battles, read_records
from ratings.features import battle_features

# An LMSYS winner string as the arena's vote choice.
CHOICE = {winner: choice for winner, code in WINNER_CODES.items()
          for choice, same in CHOICE_CODE.items() if same == code}


class Command(BaseCommand):
    help = ("Load battles in the public LMSYS format (JSON lines, JSON list or Parquet) as finished, voted battles. "
            "Unknown models become disabled endpoints, so their history shows on the leaderboard.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--arena", default="text", help="The arena the anonymous battles count in (default: text).")

    def handle(self, *args, **o):
        if not Arena.objects.filter(slug=o["arena"]).exists():
            raise CommandError(f"No arena is called {o['arena']!r}; add it in the admin first.")
        try:
            read_battles(o["file"], fields=())  # every record checked; the first bad one is named by its line
        except FileNotFoundError:
            raise CommandError(f"No such file: {o['file']}") from None
        except ValueError as exc:
            raise CommandError(f"{o['file']} is not a battles file: {exc}") from None
        records = read_records(o["file"])
        with transaction.atomic():
            endpoints = {}
            for name in {r[k] for r in records for k in ("model_a", "model_b")}:
                endpoints[name], _ = ModelEndpoint.objects.get_or_create(
                    name=name, defaults={"backend": Backend.OPENAI, "queue": "imported", "enabled": False,
                                         "params": {}, "description": "Imported battle history."})
            for record in records:
                self._load(record, endpoints, o["arena"])
        self.stdout.write(f"imported {len(records)} battles")

    def _load(self, record: dict, endpoints: dict, arena: str) -> None:
        when = datetime.fromtimestamp(record["tstamp"], UTC) if record.get("tstamp") else datetime.now(UTC)
        anony = record.get("anony", True)
        battle = Battle.objects.create(mode=Mode.ANONYMOUS if anony else Mode.NAMED, arena_id=arena if anony else None,
                                       endpoint_a=endpoints[record["model_a"]],
                                       endpoint_b=endpoints[record["model_b"]], client_id="import", created_at=when)
        conv = {s: record.get(f"conversation_{s}") or [] for s in "ab"}
        prompts = [m["content"] for m in conv["a"] if m.get("role") == "user"] or [record.get("prompt", "")]
        messages = []
        for index, prompt in enumerate(prompts):
            turn = Turn.objects.create(battle=battle, index=index, prompt=prompt, created_at=when)
            for side in "ab":
                answers = [m["content"] for m in conv[side] if m.get("role") == "assistant"]
                text = answers[index] if index < len(answers) else ""
                messages.append(Message.objects.create(turn=turn, side=side, status=Status.DONE, text=text,
                                                       created_at=when, finished_at=when))
        features = battle_features(prompts, messages)
        Vote.objects.create(battle=battle, choice=CHOICE[record["winner"]], client_id="import", counts=anony,
                            excluded_reason="" if anony else "Only anonymous battles count toward the ratings.",
                            features=features, created_at=when, **rating_columns(battle, features, counts=anony))
