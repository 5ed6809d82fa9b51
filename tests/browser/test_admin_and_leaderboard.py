"""Staff add an endpoint in the admin and test it; a new vote reaches the leaderboard page."""

import json
import re

from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.conftest import TINY_QUEUE, wait_for_queue


def test_staff_add_an_endpoint_and_test_it(page, arena_db, stack, worker, tiny_model_dir):
    User.objects.filter(username="admin-e2e").delete()
    User.objects.create_superuser("admin-e2e", "admin@example.org", "pw-e2e-123456")
    wait_for_queue(TINY_QUEUE, worker, stack)
    page.goto("/admin/login/?next=/admin/arena/modelendpoint/add/")
    page.get_by_label("Username").fill("admin-e2e")
    page.get_by_label("Password").fill("pw-e2e-123456")
    page.get_by_role("button", name="Log in").click()

    page.locator("#id_name").fill("tiny-from-admin")
    page.locator("#id_backend").select_option("transformers")
    page.locator("#id_params").fill(json.dumps({"model": str(tiny_model_dir), "temperature": 2.5}))
    page.locator("#id_queue").fill(TINY_QUEUE)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errorlist")).to_contain_text("temperature must be between 0 and 2")

    page.locator("#id_params").fill(json.dumps({"model": str(tiny_model_dir), "temperature": 0, "max_new_tokens": 12}))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    page.get_by_role("row", name=re.compile("tiny-from-admin")).get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("test_endpoint")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text(
        re.compile(r"answered .*: \d+ tokens, first token after \d+ ms", re.I), timeout=60_000)
    User.objects.filter(username="admin-e2e").delete()


def test_a_new_vote_shows_on_the_leaderboard(page, api, endpoints):
    battle_id = api.start("Hello there")
    api.wait_finished(battle_id)
    assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "b"}).json()["vote"]["counts"]
    page.goto("/leaderboard/")
    for _ in range(60):  # recomputed in the background a few seconds after the vote
        if page.locator("table.leaderboard").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    table = page.locator("table.leaderboard")  # one vote rates nobody: both listed as not enough data
    expect(table).to_contain_text("alpha-model")
    expect(table).to_contain_text("beta-model")
    expect(page.get_by_role("heading", name="Not enough data yet")).to_be_visible()
    expect(page.locator("#freshness")).to_contain_text("1 votes counted")
