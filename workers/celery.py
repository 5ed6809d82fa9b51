import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

app = Celery("arena")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {
    "reap-stuck-messages": {"task": "workers.tasks.reap_stuck_messages",
                            "schedule": float(os.environ.get("ARENA_REAPER_SECONDS", "10"))},
    "recompute-leaderboard": {"task": "ratings.tasks.recompute_leaderboard",
                              "schedule": float(os.environ.get("ARENA_LEADERBOARD_SECONDS", "60"))},
    "train-prompt-heads": {"task": "ratings.tasks.train_prompt_heads",
                           "schedule": float(os.environ.get("ARENA_P2L_SECONDS", "600"))},
}
app.autodiscover_tasks(["workers", "ratings"])

from . import heartbeat  # noqa: E402,F401  (connects the worker signals)
