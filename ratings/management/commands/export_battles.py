from django.core.management.base import BaseCommand

from ratings.battle_files import write_records
from ratings.export import arena_battle_records


class Command(BaseCommand):
    help = "Write the arena's cleaned battles (counted anonymous votes) in the public LMSYS format."

    def add_arguments(self, parser):
        parser.add_argument("output", help="file to write: .parquet, .json (one JSON list) or JSON lines (any other)")
        parser.add_argument("--all", action="store_true",
                            help="include excluded votes, marked anony=false or with a reason")

    def handle(self, *args, **o):
        written = write_records(arena_battle_records(include_excluded=o["all"]), o["output"])
        self.stdout.write(f"wrote {written} battles to {o['output']}")
