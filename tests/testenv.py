"""Loaded as a pytest plugin (``-p tests.testenv``) so that it runs before Django reads its settings:
it picks the ports of this run's private PostgreSQL and Redis and points the settings at them."""

import os
import tempfile
from pathlib import Path

from arena.localservices import free_port

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(tempfile.mkdtemp(prefix="arena-test-"))
STATE.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
PG_PORT, REDIS_PORT = free_port(), free_port()
os.environ["DATABASE_URL"] = f"postgres://arena@127.0.0.1:{PG_PORT}/arena"
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
os.environ.setdefault("ARENA_MODEL_CACHE", str(ROOT / ".state" / "models"))
os.environ["ARENA_HEARTBEAT_SECONDS"] = "1"
os.environ["ARENA_HEARTBEAT_TTL"] = "3"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["ARENA_REAPER_SECONDS"] = "1"
os.environ.setdefault("ARENA_ANSWER_TOKEN_CAP", "1000")  # above the tiny endpoints' own caps, which then apply
os.environ.setdefault("ARENA_PACING_CHARS_PER_SECOND", "300")  # the tiny model's short answers, shown quickly
os.environ["ARENA_LEADERBOARD_SECONDS"] = "2"
os.environ["ARENA_P2L_SECONDS"] = "86400"  # tests train prompt heads when they mean to (test_prompt_heads.py)
os.environ["ARENA_LIMITS"] = ('{"battles_ip": "100000/m", "turns_ip": "100000/m", "votes_ip": "100000/d", '
                               '"regenerations_ip": "100000/m", "stops_ip": "100000/m", "completions_ip": "100000/m"}')
V1_KEY = "test-v1-key-" + "0" * 40
os.environ["ARENA_API_KEYS"] = V1_KEY
