import numpy as np

from ratings.vote_surprise import client_surprise, flag_anomalous


def test_it_flags_a_client_who_votes_against_the_ratings_and_spares_honest_ones():
    rng = np.random.default_rng(0)
    ratings = np.linspace(800, 1200, 10)
    n = 40_000
    a, b = rng.integers(0, 10, n), rng.integers(0, 10, n)
    keep = a != b
    a, b = a[keep], b[keep]
    client = rng.integers(0, 200, len(a))
    p_a = 1 / (1 + 10 ** ((ratings[b] - ratings[a]) / 400))
    outcome = np.where(rng.random(len(a)) < p_a, 0, 1)
    # Clients 0 and 1 always vote for the weaker model; client 2 votes at random.
    weaker_wins = np.where(ratings[a] < ratings[b], 0, 1)
    outcome[client <= 1] = weaker_wins[client <= 1]
    random_client = client == 2
    outcome[random_client] = rng.integers(0, 2, random_client.sum())
    ties = rng.random(len(a)) < 0.1
    outcome[ties & (client > 2)] = 2
    z, votes = client_surprise(client, a, b, outcome, ratings)
    flagged = flag_anomalous(z, votes)
    assert flagged[0] and flagged[1]
    assert flagged[3:].sum() <= 1  # honest clients: at most a rare false alarm at alpha = 1%
    assert z[2] < np.median(z[3:])  # a coin-flipper looks worse than honest clients


def test_it_needs_enough_votes_before_judging():
    z, votes = client_surprise(np.array([0, 0]), np.array([0, 0]), np.array([1, 1]), np.array([1, 1]),
                               np.array([1400.0, 600.0]))
    assert votes[0] == 2 and z[0] < 0
    assert not flag_anomalous(z, votes, min_votes=10).any()
