"""Production settings refuse unsafe values with a sentence and pass Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "HTTPS")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_a_missing_secret_key_or_hosts():
    result = manage("check", ARENA_ENV="production", ALLOWED_HOSTS="arena.example.org")
    assert result.returncode != 0 and "Set SECRET_KEY to a random string" in result.stderr
    result = manage("check", ARENA_ENV="production", SECRET_KEY=secrets.token_urlsafe(60))
    assert result.returncode != 0 and "Set ALLOWED_HOSTS" in result.stderr
    result = manage("check", DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG must be true or false" in result.stderr


def test_production_settings_pass_the_deployment_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", ARENA_ENV="production",
                    SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="arena.example.org")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_pages_send_security_headers(api):
    response = api.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.text  # no inline script anywhere on the page


def test_the_charts_page_allows_inline_styles_but_never_inline_script(api):
    csp = api.get("/leaderboard/").headers["Content-Security-Policy"]
    script = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert script.strip() == "script-src 'self'"
