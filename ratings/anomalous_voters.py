"""Find anomalous voters in the arena's votes and record them; their votes stay in the data but
stop counting (see ratings/vote_surprise.py for the test itself)."""

import logging

import numpy as np

from arena.models import ModelEndpoint, Vote
from ratings.battle_arrays import CHOICE_CODE
from ratings.bradley_terry import fit_bradley_terry, to_rating_scale
from ratings.models import FlaggedClient
from ratings.queries import pair_counts
from ratings.vote_surprise import client_surprise, flag_anomalous

log = logging.getLogger(__name__)


def detect_anomalous_voters(*, alpha: float = 0.01, min_votes: int = 10) -> list[FlaggedClient]:
    ids = list(ModelEndpoint.objects.order_by("id").values_list("id", flat=True))
    counts = pair_counts(ids)
    if not len(counts.pairs):
        return []
    ratings = to_rating_scale(fit_bradley_terry(counts))
    index = {e: i for i, e in enumerate(ids)}
    rows = Vote.objects.filter(counts=True).values_list("client_id", "battle__endpoint_a_id", "battle__endpoint_b_id",
                                                        "choice")
    clients: dict[str, int] = {}
    data = np.array([(clients.setdefault(c, len(clients)), index[a], index[b], CHOICE_CODE[choice])
                     for c, a, b, choice in rows.iterator(chunk_size=20000)], dtype=np.int64).reshape(-1, 4)
    if not len(data):
        return []
    z, votes = client_surprise(data[:, 0], data[:, 1], data[:, 2], data[:, 3], ratings)
    flagged = flag_anomalous(z, votes, alpha=alpha, min_votes=min_votes)
    names = list(clients)
    created = []
    for i in np.flatnonzero(flagged):
        record, new = FlaggedClient.objects.get_or_create(
            client_id=names[i], defaults={"z_score": float(z[i]), "decisive_votes": int(votes[i])})
        if new:
            created.append(record)
    if created:
        log.warning("flagged %s anomalous voter(s)", len(created))
    return created
