from django.core.management.base import BaseCommand

from arena.demo import COMMON, DEMO_ARENAS, DEMO_ENDPOINTS, DEMO_QUEUE, DEMO_SEARCH_ENDPOINTS
from arena.models import Arena, Backend, ModelEndpoint
from workers.backends import validate_params


class Command(BaseCommand):
    help = "Register the demo arenas and endpoints over the bundled SmolLM2 model (idempotent)."

    def handle(self, *args, **options):
        for spec in DEMO_ARENAS:
            Arena.objects.update_or_create(slug=spec["slug"], defaults={k: v for k, v in spec.items() if k != "slug"})
        for spec in DEMO_ENDPOINTS:
            _, created = ModelEndpoint.objects.update_or_create(
                name=spec["name"],
                defaults={**COMMON, "description": spec["description"], "params": spec["params"],
                          "backend": Backend.TRANSFORMERS, "queue": DEMO_QUEUE, "arenas": ["text"]},
            )
            self.stdout.write(f"{'added' if created else 'updated'} demo endpoint {spec['name']}")
        for spec in DEMO_SEARCH_ENDPOINTS:
            _, created = ModelEndpoint.objects.update_or_create(
                name=spec["name"],
                defaults={**COMMON, "description": spec["description"],
                          "params": validate_params("search", spec["params"]),
                          "backend": Backend.SEARCH, "queue": DEMO_QUEUE, "arenas": spec["arenas"]},
            )
            self.stdout.write(f"{'added' if created else 'updated'} demo endpoint {spec['name']}")
