import json
import re

from django.core.management.base import BaseCommand, CommandError

from arena.models import DEFAULT_ARENA, Arena, Backend, ModelEndpoint
from workers.backends import validate_params

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def parse_param(item: str) -> tuple[str, object]:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise CommandError(f"--param takes key=value, not {item!r}.")
    try:
        return key, json.loads(raw)  # numbers, booleans, objects
    except json.JSONDecodeError:
        return key, raw  # plain text


class Command(BaseCommand):
    help = ("Register (or update) a model endpoint, e.g. add_endpoint --name m --backend openai --queue remote "
            "--param base_url=http://h:8000/v1 --param model=llama")

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--backend", required=True, choices=Backend.values)
        parser.add_argument("--queue", help="Celery queue of the workers serving it (default: the name)")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--organisation", default="")
        parser.add_argument("--license", default="")
        parser.add_argument("--description", default="")
        parser.add_argument("--weight", type=float, default=1.0)
        parser.add_argument("--api-key", default="")
        parser.add_argument("--codename", default="")
        parser.add_argument("--anonymous-only", action="store_true")
        parser.add_argument("--disabled", action="store_true")
        parser.add_argument("--arena", action="append", metavar="SLUG",
                            help="An arena whose anonymous battles it joins (repeat for several; default: text). "
                                 "A new arena is created with the slug as its title; edit it in the admin.")

    def handle(self, *args, **o):
        if o["weight"] < 0 or o["weight"] != o["weight"]:
            raise CommandError("--weight must be zero or more.")
        arenas = list(dict.fromkeys(o["arena"] or [DEFAULT_ARENA]))
        bad = [slug for slug in arenas if not SLUG.fullmatch(slug)]
        if bad:
            raise CommandError(f"--arena takes a slug (lowercase letters, digits, - and _), not {bad[0]!r}.")
        params = dict(parse_param(item) for item in o["param"])
        try:
            params = validate_params(o["backend"], params)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for slug in arenas:
            _, added = Arena.objects.get_or_create(slug=slug, defaults={"title": slug.replace("-", " ").capitalize()})
            if added:
                self.stdout.write(f"added arena {slug}")
        endpoint, created = ModelEndpoint.objects.update_or_create(
            name=o["name"],
            defaults={"backend": o["backend"], "params": params, "queue": o["queue"] or o["name"],
                      "organisation": o["organisation"], "license": o["license"], "description": o["description"],
                      "sampling_weight": o["weight"], "api_key": o["api_key"], "codename": o["codename"],
                      "name_published": not o["codename"], "anonymous_only": o["anonymous_only"],
                      "enabled": not o["disabled"], "arenas": arenas},
        )
        self.stdout.write(f"{'added' if created else 'updated'} {endpoint.name} "
                          f"({endpoint.backend}, queue {endpoint.queue})")
