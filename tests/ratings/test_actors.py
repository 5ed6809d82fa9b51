"""Votes pooled into actors (ratings/actors.py): any shared identity links votes, transitively."""

import numpy as np

from ratings.actors import actor_index, cookie_lineage


def test_votes_sharing_any_identity_belong_to_one_actor():
    cookie = np.array(["c1", "c2", "c3", "c4", "c5"], dtype=object)
    address = np.array(["ip1", "ip1", "ip2", "", "ip3"], dtype=object)
    lineage = np.array(["", "", "L", "L", ""], dtype=object)
    actor = actor_index(cookie, address, lineage)
    assert actor[0] == actor[1]  # one address
    assert actor[2] == actor[3]  # one cookie lineage
    assert len({actor[0], actor[2], actor[4]}) == 3


def test_links_are_transitive_and_empty_values_link_nothing():
    cookie = np.array(["c1", "c1", "c2", "c3"], dtype=object)
    address = np.array(["ip1", "ip2", "ip2", ""], dtype=object)
    user = np.array([None, None, None, None], dtype=object)
    actor = actor_index(cookie, address, user)
    assert actor[0] == actor[1] == actor[2] != actor[3]


def test_cookies_issued_to_one_address_in_a_short_window_are_one_lineage():
    origin = np.array(["x", "x", "x", "x", "y", ""], dtype=object)
    issued = np.array([0.0, 1800.0, 3000.0, 10_000.0, 100.0, 100.0])
    labels = cookie_lineage(origin, issued, window=3600.0)
    assert labels[0] == labels[1] == labels[2]  # each within an hour of the one before
    assert labels[3] != labels[0]  # hours later: another lineage
    assert labels[4] not in (labels[0], labels[3])
    assert labels[5] == ""
