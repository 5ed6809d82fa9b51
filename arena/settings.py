"""Settings, all read from the environment with safe development defaults.

Production (``ARENA_ENV=production``) refuses to start without a real ``SECRET_KEY``
and explicit ``ALLOWED_HOSTS``.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


PRODUCTION = env_str("ARENA_ENV", "development") == "production"
DEBUG = env_bool("DEBUG", False)
HTTPS = env_bool("HTTPS", PRODUCTION)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
SECRET_KEY = env_str("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("SECRET_KEY is the development key written in arena/settings.py, which anyone can "
                               "read; set SECRET_KEY to a random string of at least 50 characters.")
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("Set SECRET_KEY to a random string of at least 50 characters.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set ALLOWED_HOSTS to the host names the arena is served under.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Sign-in (django-allauth): e-mail always; a provider only when its client id and secret are set.
# OpenID Connect: ARENA_OIDC_SERVER_URL (the issuer, whose /.well-known/openid-configuration is read),
# ARENA_OIDC_CLIENT_ID, ARENA_OIDC_SECRET and ARENA_OIDC_NAME (the button's label).
SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
if env_str("ARENA_OIDC_CLIENT_ID", "") and env_str("ARENA_OIDC_SECRET", ""):
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {"APPS": [{
        "provider_id": "oidc", "name": env_str("ARENA_OIDC_NAME", "Single sign-on"),
        "client_id": env_str("ARENA_OIDC_CLIENT_ID", ""), "secret": env_str("ARENA_OIDC_SECRET", ""),
        "settings": {"server_url": env_str("ARENA_OIDC_SERVER_URL", "")}}]}
    if not env_str("ARENA_OIDC_SERVER_URL", ""):
        raise ImproperlyConfigured("ARENA_OIDC_CLIENT_ID is set: set ARENA_OIDC_SERVER_URL to the provider's issuer "
                                   "URL too (the address before /.well-known/openid-configuration).")
for _provider in ("github", "google"):
    _client_id = env_str(f"ARENA_{_provider.upper()}_CLIENT_ID", "")
    _secret = env_str(f"ARENA_{_provider.upper()}_SECRET", "")
    if _client_id and _secret:
        SOCIALACCOUNT_PROVIDERS[_provider] = {"APPS": [{"client_id": _client_id, "secret": _secret}],
                                        "SCOPE": ["user:email"] if _provider == "github" else ["profile", "email"]}
SIGN_IN_PROVIDER_APPS = [f"allauth.socialaccount.providers.{name}" for name in SOCIALACCOUNT_PROVIDERS]

INSTALLED_APPS = [
    "django_ratelimit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "ninja",  # serves Swagger UI from its own static files, so /api/docs works offline under the CSP
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    *SIGN_IN_PROVIDER_APPS,
    "arena",
    "ratings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "arena.middleware.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "arena.middleware.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
]
# arena/asgi.py serves these through versions whose hooks run on the event loop (arena/middleware.py).

ROOT_URLCONF = "arena.urls"
ASGI_APPLICATION = "arena.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://arena@127.0.0.1:5433/arena"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 3)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6380/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

# Sign-in throttling, for the admin's login and the site's (allauth's) alike: after
# AXES_FAILURE_LIMIT wrong passwords for one user name (or e-mail address) from one address, that
# pair is refused for AXES_COOLOFF_TIME (django-axes, whose backend must stay first). Keyed on the
# pair, so nobody elsewhere can lock the real staff out by guessing at their name.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend",
                           "allauth.account.auth_backends.AuthenticationBackend"]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURES", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "arena.accounts.login_name"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# The site's accounts: an e-mail address and a password, the address confirmed by a link before the
# first sign-in. Wrong passwords are throttled by django-axes above (one home for that), so
# allauth's own login_failed limit is off; its other limits (sign-ups, mails sent) stay.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_RATE_LIMITS = {"login_failed": None}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Model Arena] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if HTTPS else "http"
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # a provider's e-mail never signs into an existing account
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"

# Mail (the confirmation links): SMTP when EMAIL_HOST is set; otherwise each message is written as a
# file to ARENA_MAIL_DIR (make run: .state/mail/, which it prints), never sent anywhere.
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env_str("ARENA_MAIL_DIR", str(BASE_DIR / ".state" / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Model Arena <arena@localhost>")

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A session (the browser's battles, a sign-in) ends this many hours after it was last written: when
# it began, or at the last sign-in.
SESSION_COOKIE_AGE = 60 * 60 * env_int("ARENA_SESSION_HOURS", 24 * 7)
if SESSION_COOKIE_AGE <= 0:
    raise ImproperlyConfigured("ARENA_SESSION_HOURS must be a positive number of hours.")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Plotly's browser bundle ships inside the plotly package: charts render offline, no CDN.
import plotly  # noqa: E402

STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", Path(plotly.__file__).parent / "package_data")]
STATIC_ROOT = BASE_DIR / "staticfiles"

# Celery: one queue per served base model; the worker host says which it consumes.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
# Tasks are acknowledged on receipt: a message whose worker dies is failed by the reaper and the
# user regenerates; redelivering it an hour later would help nobody. (It also keeps the Redis
# transport from restoring unacknowledged messages on a broker reconnect, which can crash a worker.)
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "arena"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Arena behaviour. Limits are settings so that operators can tune them.
ARENA = {
    "MAX_PROMPT_CHARS": env_int("ARENA_MAX_PROMPT_CHARS", 8000),
    "MAX_TURNS": env_int("ARENA_MAX_TURNS", 8),
    "HEARTBEAT_SECONDS": env_int("ARENA_HEARTBEAT_SECONDS", 5),
    "HEARTBEAT_TTL": env_int("ARENA_HEARTBEAT_TTL", 15),
    # A message still streaming after this long, or whose worker vanished, is marked failed.
    "GENERATION_TIMEOUT": env_int("ARENA_GENERATION_TIMEOUT", 300),
    "STREAM_TTL": env_int("ARENA_STREAM_TTL", 60 * 60 * 24),
    "SSE_MAX_SECONDS": env_int("ARENA_SSE_MAX_SECONDS", 600),
    # Pick anonymous pairs by the Chatbot Arena paper's active sampling rule (mixed with staff weights).
    "ACTIVE_SAMPLING": env_bool("ARENA_ACTIVE_SAMPLING", False),
    "MODEL_CACHE": env_str("ARENA_MODEL_CACHE", str(Path.home() / ".cache" / "arena" / "models")),
    # Threads (each with its database connection) that run the API's hot database work for one web process.
    "DB_THREADS": env_int("ARENA_DB_THREADS", 8),
    # Anonymous battles show both answers on one clock before the vote (arena/pacing.py): release
    # starts when both sides have text, or after this many seconds, at most this many characters a second.
    "PACING": env_bool("ARENA_PACING", True),
    "PACING_START_DEADLINE": env_int("ARENA_PACING_START_DEADLINE", 60),
    "PACING_CHARS_PER_SECOND": env_int("ARENA_PACING_CHARS_PER_SECOND", 100),
    # Every contestant of an anonymous battle answers with at most this many tokens.
    "ANSWER_TOKEN_CAP": env_int("ARENA_ANSWER_TOKEN_CAP", 200),
    # Leaderboard honesty (docs/ratings.md): models with fewer votes are listed unrated; rated ones
    # under the second number carry a "preliminary" badge. A prior (in ties against an average model)
    # and inverse pair-frequency weighting are off unless set.
    "LEADERBOARD_MIN_VOTES": env_int("ARENA_LEADERBOARD_MIN_VOTES", 10),
    "LEADERBOARD_PRELIMINARY_VOTES": env_int("ARENA_LEADERBOARD_PRELIMINARY_VOTES", 200),
    "LEADERBOARD_PRIOR_TIES": env_int("ARENA_LEADERBOARD_PRIOR_TIES", 0),
    "LEADERBOARD_PAIR_WEIGHTING": env_bool("ARENA_LEADERBOARD_PAIR_WEIGHTING", False),
    "PROMPT_LEADERBOARD_MIN_EFFECTIVE_VOTES": env_int("ARENA_PROMPT_LEADERBOARD_MIN_EFFECTIVE_VOTES", 10),
    "PROMPT_LEADERBOARD_PRIOR_TIES": env_int("ARENA_PROMPT_LEADERBOARD_PRIOR_TIES", 2),
    # Prompt-to-leaderboard (ratings/prompt_heads.py): a head is trained once an arena has this many
    # counted votes with an embedded prompt, on at most the newest P2L_MAX_VOTES of them.
    "P2L_MIN_VOTES": env_int("ARENA_P2L_MIN_VOTES", 300),
    "P2L_MAX_VOTES": env_int("ARENA_P2L_MAX_VOTES", 100_000),
    # Counted votes per day: past these a vote is kept but not counted (per browser, per address or IPv6 /64).
    "COUNTED_VOTES_PER_CLIENT_DAY": env_int("ARENA_COUNTED_VOTES_PER_CLIENT_DAY", 50),
    "COUNTED_VOTES_PER_ADDRESS_DAY": env_int("ARENA_COUNTED_VOTES_PER_ADDRESS_DAY", 100),
    # ... and per signed-in person, whichever browsers they vote from.
    "COUNTED_VOTES_PER_PERSON_DAY": env_int("ARENA_COUNTED_VOTES_PER_PERSON_DAY", 50),
    # An anonymous vote counts only with a proof of work of this many zero bits (arena/proof_of_work.py; 0: off).
    "VOTE_PROOF_BITS": env_int("ARENA_VOTE_PROOF_BITS", 14),
    # Rigging tests (ratings/vote_surprise.py) before every leaderboard recompute, over the votes of
    # the last this many days: the chance that an honest voter is ever flagged (0: off).
    "RIGGING_ALPHA": env_float("ARENA_RIGGING_ALPHA", 1e-3),
    "RIGGING_WINDOW_DAYS": env_int("ARENA_RIGGING_WINDOW_DAYS", 30),
}
# Fewer than 100 votes leave some 20 held out: too few for the publishing test to mean anything.
if not 100 <= ARENA["P2L_MIN_VOTES"] <= ARENA["P2L_MAX_VOTES"]:
    raise ImproperlyConfigured("ARENA_P2L_MIN_VOTES must be at least 100 and at most ARENA_P2L_MAX_VOTES.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# Serve static files straight from static/ (and app folders) without a collectstatic step.
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 256 * 1024)
# The OpenAI-compatible /v1 API answers only callers with one of these Bearer keys, unless the
# operator opens it to everyone with ARENA_V1_OPEN. `make run` makes one key and prints it.
ARENA_API_KEYS = env_list("ARENA_API_KEYS", "")
ARENA_V1_OPEN = env_bool("ARENA_V1_OPEN", False)
# At most this many /v1 completions run on one endpoint queue at once; the rest get a 429, so that
# API callers never take every slot battles need.
ARENA_V1_CONCURRENCY = env_int("ARENA_V1_CONCURRENCY", 4)

# Rate limits (django-ratelimit syntax: N/s, N/m, N/h, N/d), per client and per address.
ARENA_LIMITS = {
    "battles": "30/m", "battles_ip": "120/m",
    "turns": "60/m", "turns_ip": "240/m",
    "votes": "1000/d", "votes_ip": "5000/d",
    "regenerations": "20/m", "regenerations_ip": "120/m",
    "stops": "30/m", "stops_ip": "240/m",
    "deletions": "60/m", "deletions_ip": "240/m",
    "completions": "60/m", "completions_ip": "600/m",  # /v1: per key, per address
    **json.loads(os.environ.get("ARENA_LIMITS", "{}")),
}
RATELIMIT_USE_CACHE = "default"
LEADERBOARD_BOOTSTRAP = env_int("ARENA_LEADERBOARD_BOOTSTRAP", 0)
# Style control reads every vote; refit it at most this often (the BT tables are always fresh).
LEADERBOARD_STYLE_SECONDS = env_int("ARENA_LEADERBOARD_STYLE_SECONDS", 600)
# Django's own Redis cache increments atomically, which is all django-ratelimit needs.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
