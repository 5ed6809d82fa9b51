"""Who is signed in, as the arena's services need it, and the name sign-in throttling counts on."""

from django.contrib.auth.models import AbstractBaseUser


def signed_in_user(request) -> AbstractBaseUser | None:
    """The signed-in person, or None. Reads the user (one query) only where the session names one:
    call it from a thread, never on the event loop."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def login_name(request, credentials: dict | None) -> str | None:
    """The name django-axes counts wrong passwords against: the admin form's user name, or the
    e-mail address allauth's form signs in with (any case, so that changing it does not reset
    the count)."""
    if credentials:
        name = credentials.get("username") or credentials.get("email")
    else:
        data = getattr(request, "data", None) or request.POST
        name = data.get("username") or data.get("login")
    return name.strip().lower() if isinstance(name, str) else name
