from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every Django process (web, management commands) enqueues tasks through this Celery app; its
        # worker-signal module reads settings and arena modules, so it loads once the apps have.
        from workers import celery  # noqa: F401, PLC0415 (Django app loading)
