import json

from django.core.management.base import BaseCommand, CommandError

from ratings.export import arena_battle_records


class Command(BaseCommand):
    help = "Write the arena's cleaned battles (counted anonymous votes) in the public LMSYS format."

    def add_arguments(self, parser):
        parser.add_argument("output", help="file to write: .jsonl, or .parquet (needs pyarrow)")
        parser.add_argument("--all", action="store_true",
                            help="include excluded votes, marked anony=false or with a reason")

    def handle(self, *args, **o):
        records = list(arena_battle_records(include_excluded=o["all"]))
        if o["output"].endswith(".parquet"):
            try:
                import pyarrow as pa  # noqa: PLC0415 (pyarrow: optional, only for Parquet output)
                import pyarrow.parquet as pq  # noqa: PLC0415 (pyarrow: optional, only for Parquet output)
            except ImportError:
                raise CommandError("Parquet output needs pyarrow: pip install pyarrow") from None
            pq.write_table(pa.Table.from_pylist([{**r, "conversation_a": json.dumps(r["conversation_a"]),
                                                  "conversation_b": json.dumps(r["conversation_b"])} for r in records]),
                           o["output"])
        else:
            with open(o["output"], "w", encoding="utf-8") as out:
                for record in records:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stdout.write(f"wrote {len(records)} battles to {o['output']}")
