"""Who is asking: a random id kept in the (signed-cookie) session, so votes bind to a browser, and
the address limits are keyed on."""

import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

SESSION_KEY = "arena_client"
# Where and when the cookie's client id was issued: cookies issued to one address in a short
# window are one lineage for the rigging tests (ratings/actors.py).
ORIGIN_KEY, ISSUED_KEY = "arena_client_origin", "arena_client_issued"


@dataclass(frozen=True)
class VoterIdentity:
    """What links a vote to others by the same actor, kept with the vote: the keyed hash of the
    voter's address (never the address itself) and of the address its cookie was issued to, and when."""

    address_key: str = ""
    cookie_origin: str = ""
    cookie_issued_at: datetime | None = None


def client_id(request) -> str:
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, str) or len(value) != 32:
        value = secrets.token_hex(16)
        request.session[SESSION_KEY] = value
        request.session[ORIGIN_KEY] = address_key(client_address(request))
        request.session[ISSUED_KEY] = int(time.time())
    return value


def voter_identity(request) -> VoterIdentity:
    issued = request.session.get(ISSUED_KEY)
    origin = request.session.get(ORIGIN_KEY)
    return VoterIdentity(
        address_key=address_key(client_address(request)),
        cookie_origin=origin if isinstance(origin, str) else "",
        cookie_issued_at=datetime.fromtimestamp(issued, UTC) if isinstance(issued, int) else None)


def address_key(address: str) -> str:
    """A keyed hash of an address: equal for equal addresses, and no address in the database."""
    if not address:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def client_address(request) -> str:
    """The address per-address limits and caps count: the peer's address as the server reports it,
    an IPv6 address as its /64 (one subscriber usually holds a whole /64, and a script could take a
    fresh address from it for every request).

    The server believes X-Forwarded-For only from the proxies in FORWARDED_ALLOW_IPS (uvicorn's
    --forwarded-allow-ips, empty by default: see arena/stack.py), so a header a client sets itself
    never changes this.
    """
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw  # a Unix socket path, or empty
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
