from django.db import models
from django.utils import timezone


class LeaderboardSnapshot(models.Model):
    """A computed leaderboard of one arena and category; pages read the newest one and never compute
    in a request."""

    arena = models.CharField(max_length=40, default="text", help_text="The arena's slug.")
    category = models.CharField(max_length=50, default="overall")
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    total_votes = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        get_latest_by = "computed_at"
        indexes = [models.Index(fields=["arena", "category", "-computed_at"], name="snapshot_arena_latest")]


class FlaggedVoteQuerySet(models.QuerySet):
    def in_force(self):
        return self.filter(cleared=False)


class FlaggedVote(models.Model):
    """A vote the rigging tests (ratings/vote_surprise.py) found part of an attack. The vote stays
    in the data but stops counting, until staff clear the flag (a cleared flag is never set again)."""

    vote = models.OneToOneField("arena.Vote", on_delete=models.CASCADE, primary_key=True, related_name="flag")
    detector = models.CharField(max_length=40, help_text="The test that fired (ratings/vote_surprise.py).")
    reason = models.CharField(max_length=300)
    evidence = models.FloatField(help_text="Natural log of the test's likelihood ratio for the actor (or model).")
    actor_votes = models.PositiveIntegerField(help_text="Votes of the actor this vote was pooled with.")
    flagged_at = models.DateTimeField(default=timezone.now)
    cleared = models.BooleanField(default=False, help_text="Reviewed by staff: this vote counts again.")

    objects = FlaggedVoteQuerySet.as_manager()

    class Meta:
        ordering = ["-flagged_at"]

    def __str__(self) -> str:
        return f"vote {self.vote_id}: {self.detector}"


class PromptEmbedding(models.Model):
    """The all-MiniLM embedding of a counted vote's prompt, for leaderboards of similar prompts."""

    vote = models.OneToOneField("arena.Vote", on_delete=models.CASCADE, primary_key=True, related_name="+")
    vector = models.BinaryField(help_text="384 float32 values, unit length")


class VoteChunk(models.Model):
    """The counted votes with an id in (lo, hi], packed once as one column-store blob, so that a
    refit over every vote reads a few large rows instead of a million small ones.

    Packed by ratings/vote_chunks.py; a trigger on arena_vote (migration 0004) deletes a chunk as
    soon as a vote in its range is inserted, changed or deleted, and the next recompute packs it again.
    """

    lo = models.BigIntegerField(unique=True, help_text="Votes with an id above this one ...")
    hi = models.BigIntegerField(help_text="... up to and including this one.")
    votes = models.PositiveIntegerField()
    layout = models.CharField(max_length=200, help_text="The numpy dtype the data was packed with.")
    data = models.BinaryField()
    packed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["lo"]
        indexes = [models.Index(fields=["hi"], name="votechunk_hi")]

    def __str__(self) -> str:
        return f"votes {self.lo + 1}..{self.hi} ({self.votes})"
