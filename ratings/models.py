from django.db import models
from django.utils import timezone


class LeaderboardSnapshot(models.Model):
    """A computed leaderboard; pages read the newest one and never compute in a request."""

    category = models.CharField(max_length=50, default="overall")
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    total_votes = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        get_latest_by = "computed_at"
        indexes = [models.Index(fields=["category", "-computed_at"])]
