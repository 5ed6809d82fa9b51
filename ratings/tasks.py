from celery import shared_task


@shared_task(ignore_result=True)
def recompute_leaderboard() -> None:
    from ratings.snapshots import recompute

    recompute()
