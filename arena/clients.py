"""Who is asking: a random id kept in the (signed-cookie) session, so votes bind to a browser, and
the address limits are keyed on."""

import ipaddress
import secrets

SESSION_KEY = "arena_client"


def client_id(request) -> str:
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, str) or len(value) != 32:
        value = secrets.token_hex(16)
        request.session[SESSION_KEY] = value
    return value


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
