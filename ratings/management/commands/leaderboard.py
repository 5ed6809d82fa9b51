import json

from django.core.management.base import BaseCommand, CommandError

from ratings.battle_files import read_battles
from ratings.categories import CATEGORIES, category_mask
from ratings.leaderboard import add_davidson_columns, compute_leaderboard
from ratings.ties import compare_on_held_out


def parse_anchor(value: str | None) -> tuple[str, float] | None:
    if not value:
        return None
    name, sep, rating = value.rpartition("=")
    try:
        return name, float(rating)
    except ValueError:
        raise CommandError(f"--anchor takes NAME=RATING, not {value!r}.") from None


class Command(BaseCommand):
    # It reads a file and touches no database or URL: the system checks would only cost start-up time.
    requires_system_checks = []
    help = ("Print a leaderboard from a battles file in the public LMSYS format (JSON lines, JSON list or Parquet); "
            "no database.")

    def add_arguments(self, parser):
        parser.add_argument("--battles", required=True, help="JSONL, JSON or Parquet file of battles")
        parser.add_argument("--format", choices=["table", "json"], default="table")
        parser.add_argument("--category", choices=sorted(CATEGORIES), default="overall")
        parser.add_argument("--style-control", action="store_true")
        parser.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap rounds (0: sandwich CIs)")
        parser.add_argument("--anchor", help="pin one model's rating, e.g. llama-2-70b-chat=1000")
        parser.add_argument("--include-named", action="store_true", help="also count non-anonymous battles")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--ties", choices=["half", "davidson"], default="half",
                            help="half: a tie is half a win (the rating); davidson: also fit the Davidson tie model "
                                 "and compare both on held-out votes")

    def handle(self, *args, **o):
        try:
            # Only the fields this leaderboard reads: the vote order, anonymity, the category's, style.
            fields = {"anony", "tstamp", *CATEGORIES[o["category"]].needs}
            if o["style_control"]:
                fields |= {"style_a", "style_b"}
            battles = read_battles(o["battles"], fields=fields)
        except FileNotFoundError:
            raise CommandError(f"No such file: {o['battles']}") from None
        except (ValueError, KeyError) as exc:
            raise CommandError(f"{o['battles']} is not a battles file: {exc}") from None
        if "anony" in battles.fields and not o["include_named"]:
            anonymous = battles.fields["anony"].astype(bool)
            if not anonymous.all():  # a file of anonymous battles only: no copy
                battles = battles.select(anonymous)
        try:
            keep = category_mask(battles, o["category"])  # of the anonymous battles: deduplication counts those
            if not keep.all():  # "overall" keeps every battle: no copy
                battles = battles.select(keep)
            anchor = parse_anchor(o["anchor"])
            rows = compute_leaderboard(battles, style_control=o["style_control"], bootstrap_rounds=o["bootstrap"],
                                       anchor=anchor, seed=o["seed"])
            davidson = held_out = None
            if o["ties"] == "davidson" and rows:
                davidson = add_davidson_columns(battles, rows, anchor=anchor)
                held_out = compare_on_held_out(battles, seed=o["seed"])
        except (ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from None
        if o["format"] == "json":
            if davidson is None:
                self.stdout.write(json.dumps(rows, indent=2))
            else:
                self.stdout.write(json.dumps({"rows": rows, "davidson_nu": davidson.nu,
                                              "tie_between_equals": davidson.tie_between_equals,
                                              "held_out_log_loss": held_out}, indent=2))
            return
        header = f"{'rank':>4}  {'model':<40} {'rating':>8} {'95% CI':>15} {'votes':>8} {'elo':>8}"
        if o["style_control"]:
            header += f" {'style':>8} {'s-rank':>6}"
        if davidson is not None:
            header += f" {'davidson':>8} {'d-rank':>6}"
        self.stdout.write(header)
        for r in rows:
            interval = f"+{r['ci_upper'] - r['rating']:.1f}/-{r['rating'] - r['ci_lower']:.1f}"
            line = (f"{r['rank_ub']:>4}  {r['model'][:40]:<40} {r['rating']:>8.1f} "
                    f"{interval:>15} "
                    f"{r['votes']:>8} {r['elo']:>8.1f}")
            if o["style_control"]:
                line += f" {r['style_rating']:>8.1f} {r['style_rank_ub']:>6}"
            if davidson is not None:
                line += f" {r['davidson_rating']:>8.1f} {r['davidson_rank_ub']:>6}"
            self.stdout.write(line)
        self.stdout.write(f"{len(battles)} battles, {len(rows)} models")
        if davidson is not None:
            self.stdout.write(self._tie_report(davidson, held_out))

    @staticmethod
    def _tie_report(davidson, held_out: dict) -> str:
        better = "Davidson" if held_out["davidson"] < held_out["bradley_terry"] else "ties as half a win"
        return (f"Davidson tie parameter nu = {davidson.nu:.4f} (two equal models tie with probability "
                f"{davidson.tie_between_equals:.3f}).\n"
                f"Held-out log-loss per vote over {held_out['votes']:.0f} votes (80/20 split): "
                f"ties as half a win {held_out['bradley_terry']:.5f}, Davidson {held_out['davidson']:.5f} "
                f"(win, loss and tie); decisive votes only {held_out['bradley_terry_decisive']:.5f} vs "
                f"{held_out['davidson_decisive']:.5f}. {better} predicts the held-out votes better.")
