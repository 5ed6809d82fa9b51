"""Production settings refuse unsafe values with a sentence and pass Django's deployment checks."""

import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from django.contrib.auth.models import User
from django.core.management import call_command

from arena.settings import _DEV_SECRET
from arena.stack import Stack

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


def test_production_refuses_the_development_key():
    result = manage("check", ARENA_ENV="production", ALLOWED_HOSTS="arena.example.org", SECRET_KEY=_DEV_SECRET)
    assert result.returncode != 0
    assert "SECRET_KEY is the development key written in arena/settings.py, which anyone can read" in result.stderr


def test_the_stack_makes_its_secret_key_and_v1_key_once_and_keeps_them_private(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ARENA_API_KEYS", "ARENA_V1_OPEN")}
    first = Stack(state=tmp_path, env=dict(env))
    first.keep_secrets()
    again = Stack(state=tmp_path, env=dict(env))
    again.keep_secrets()
    assert first.env["SECRET_KEY"] == again.env["SECRET_KEY"] != _DEV_SECRET
    assert len(first.env["SECRET_KEY"]) >= 50
    assert first.env["ARENA_API_KEYS"] == again.env["ARENA_API_KEYS"] == (tmp_path / "api_key").read_text().strip()
    for name in ("secret_key", "api_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    other = Stack(state=tmp_path / "other", env=dict(env))
    other.keep_secrets()
    assert other.env["SECRET_KEY"] != first.env["SECRET_KEY"]  # random, not a constant
    opened = Stack(state=tmp_path / "open", env={**env, "ARENA_V1_OPEN": "1"})
    opened.keep_secrets()
    assert "ARENA_API_KEYS" not in opened.env and not (tmp_path / "open" / "api_key").exists()


def _admin_login(http: httpx.Client, username: str, password: str) -> httpx.Response:
    page = http.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return http.post("/admin/login/?next=/admin/", data={"csrfmiddlewaretoken": token, "username": username,
                                                         "password": password})


def test_admin_sign_in_is_refused_for_a_while_after_ten_wrong_passwords(web, arena_db):
    User.objects.filter(username="guarded").delete()
    User.objects.create_superuser("guarded", "guarded@example.org", "the-right-password-42")
    try:
        with httpx.Client(base_url=web, timeout=30) as http:
            wrong = [_admin_login(http, "guarded", "a-wrong-password") for _ in range(10)]
            assert [r.status_code for r in wrong] == [200] * 9 + [429]  # the tenth wrong one locks
            assert "Please enter the correct username" in wrong[0].text
            refused = _admin_login(http, "guarded", "the-right-password-42")
            assert refused.status_code == 429
            assert "too many login attempts" in refused.text.lower() and "sessionid" not in refused.cookies
        with httpx.Client(base_url=web, timeout=30) as http:  # another user name from here is not locked
            assert _admin_login(http, "someone-else", "x").status_code == 200
        call_command("axes_reset_username", "guarded")  # what staff do, or the cool-off, ends it
        with httpx.Client(base_url=web, timeout=30) as http:
            signed_in = _admin_login(http, "guarded", "the-right-password-42")
            assert signed_in.status_code == 302 and "sessionid" in signed_in.cookies
    finally:
        call_command("axes_reset_username", "guarded")
        User.objects.filter(username="guarded").delete()


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


def test_it_refuses_a_prompt_head_minimum_too_small_for_the_held_out_test():
    result = manage("check", ARENA_P2L_MIN_VOTES="20")
    assert result.returncode != 0 and "ARENA_P2L_MIN_VOTES must be at least 100" in result.stderr
