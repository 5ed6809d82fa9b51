import logging

from celery import shared_task

from arena import jobs, redis_keys
from arena.redis_client import get_redis
from ratings import prompt_heads
from ratings.anomalous_voters import detect_anomalous_voters as detect
from ratings.snapshots import recompute
from workers.search.embeddings import get_encoder

DEBOUNCE_SECONDS = 5

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def recompute_leaderboard() -> None:
    """The rigging tests first, so that a leaderboard never shows votes they would flag now."""
    try:
        detect()
    except Exception:  # the leaderboard is still computed; the next run tests again
        log.exception("the rigging tests failed")
    recompute()


def schedule_recompute() -> None:
    """Recompute a few seconds after a counted vote; votes arriving meanwhile share that run."""
    try:
        if get_redis().set(redis_keys.LEADERBOARD_SCHEDULED, "1", nx=True, ex=DEBOUNCE_SECONDS):
            recompute_leaderboard.apply_async(countdown=DEBOUNCE_SECONDS, queue="arena")
    except Exception:  # the beat schedule recomputes anyway; a vote must never fail over this
        pass


@shared_task(ignore_result=True)
def prompt_leaderboard(request_id: str, prompt: str, arena: str = "text") -> None:

    try:
        result = prompt_heads.board_for_prompt(prompt, get_encoder(), arena=arena)
    except Exception as exc:  # the web side is waiting: tell it, in a sentence
        result = {"error": f"The leaderboard for this prompt could not be computed ({type(exc).__name__})."}
    jobs.publish_result(redis_keys.prompt_leaderboard(request_id), result)


@shared_task(ignore_result=True)
def train_prompt_heads() -> None:
    """Beat sends it to the maintenance queue, whose worker has the encoder; a head is trained only on new votes."""
    prompt_heads.train_prompt_heads(get_encoder())
