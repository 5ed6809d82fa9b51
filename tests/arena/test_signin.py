"""Optional sign-in (django-allauth, e-mail): sign up, confirm by the mailed link, sign in; battles
and votes record the person; a person's counted votes share a daily cap; wrong passwords are
throttled by django-axes on the site's sign-in as on the admin's. And each arena's policy on
anonymous votes: refused with a sentence, or weighted, down to the ratings."""

import re
from pathlib import Path

import httpx
import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from arena.models import Arena, Battle, Vote
from arena.redis_client import get_redis
from ratings.snapshots import recompute
from tests.apiclient import ApiClient
from tests.arena.web_servers import web_with
from tests.conftest import wait_until

PASSWORD = "a-long-enough-password-42"


def _csrf(http: httpx.Client, path: str) -> str:
    page = http.get(path)
    assert page.status_code == 200, page.text[:500]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def sign_in(http: httpx.Client, email: str, password: str = PASSWORD, **fields) -> httpx.Response:
    token = _csrf(http, "/accounts/login/")
    return http.post("/accounts/login/", data={"csrfmiddlewaretoken": token, "login": email, "password": password,
                                               **fields})


def confirmed_person(email: str) -> User:
    """A person whose address is confirmed, as after the mailed link (the link itself is tested below)."""
    user = User.objects.create_user(username=email.split("@")[0], email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def people(arena_db):
    """Removes the people a test made, and their sign-in throttling records."""
    yield
    User.objects.filter(email__endswith="@people.example.org").delete()
    call_command("axes_reset")


@pytest.fixture
def text_arena(arena_db):
    """The text arena, its policy put back afterwards (the migration's arena outlives each test)."""
    arena = Arena.objects.get(slug="text")
    yield arena
    Arena.objects.filter(slug="text").update(anonymous_votes=True, anonymous_vote_weight=1.0)


def mailed_link(mail_dir: Path, address: str) -> str:
    def link():
        for message in sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []:
            text = message.read_text()
            if f"To: {address}" in text:
                found = re.search(r"https?://\S+/accounts/confirm-email/\S+/", text)
                if found:
                    return found.group(0)
        return None

    return wait_until(link, timeout=10, what=f"the confirmation mail to {address} in {mail_dir}")


def test_a_person_signs_up_confirms_by_the_mailed_link_and_signs_in(stack, web, people):
    address = "newcomer@people.example.org"
    with httpx.Client(base_url=web, timeout=30) as http:
        token = _csrf(http, "/accounts/signup/")
        signed_up = http.post("/accounts/signup/", data={"csrfmiddlewaretoken": token, "email": address,
                                                         "password1": PASSWORD, "password2": PASSWORD})
        assert signed_up.status_code == 302, signed_up.text[:2000]
        assert "Sign out" not in http.get("/").text  # not signed in before the address is confirmed

        refused = sign_in(http, address)  # before the link is followed, the address is not confirmed
        assert "Sign out" not in http.get("/").text, refused.text[:500]

        link = mailed_link(Path(stack.env["ARENA_MAIL_DIR"]), address)
        path = httpx.URL(link).path
        confirm = http.post(path, data={"csrfmiddlewaretoken": _csrf(http, path)})
        assert confirm.status_code == 302, confirm.text[:2000]
        home = http.get("/")
        assert "Sign out" in home.text and address in home.text
        assert EmailAddress.objects.get(email=address).verified

        logout = http.post("/accounts/logout/", data={"csrfmiddlewaretoken": _csrf(http, "/accounts/logout/")})
        assert logout.status_code == 302
        assert "Sign in" in http.get("/").text

        again = sign_in(http, address.upper(), remember="on")  # addresses are matched in any case
        assert again.status_code == 302, again.text[:2000]
        assert "Sign out" in http.get("/").text
        session_cookie = next(c for c in again.headers.get_list("set-cookie") if c.startswith("sessionid="))
        assert "Max-Age=604800;" in session_cookie  # "Remember me": ARENA_SESSION_HOURS' default, 7 days


def test_a_signed_in_persons_battle_and_vote_record_them(web, worker, endpoints, people):
    person = confirmed_person("voter@people.example.org")
    with httpx.Client(base_url=web, timeout=30) as http:
        assert sign_in(http, "voter@people.example.org").status_code == 302
        api = ApiClient(http)
        battle_id = api.start("Say something kind.")
        api.wait_finished(battle_id)
        voted = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
        assert voted.status_code == 200, voted.text
        assert voted.json()["vote"]["counts"] is True
    vote = Vote.objects.select_related("battle").get(battle__uuid=battle_id)
    assert vote.user_id == person.id and vote.battle.user_id == person.id and vote.weight == 1.0


def test_a_signed_in_persons_vote_counts_without_the_proof_of_work_an_anonymous_one_needs(web, worker, endpoints,
                                                                                          people):
    confirmed_person("busy@people.example.org")
    with httpx.Client(base_url=web, timeout=30) as http:
        anonymous = ApiClient(http)
        unproven = anonymous.start("Say something kind.")
        anonymous.wait_finished(unproven)
        assert anonymous.battle(unproven)["proof_of_work"]["bits"] > 0
        assert anonymous.post(f"/api/battles/{unproven}/vote", {"choice": "a", "proof": ""}).json()["vote"]["counts"] \
            is False
        assert sign_in(http, "busy@people.example.org").status_code == 302
        api = ApiClient(http)
        battle_id = api.start("Say something kind.")
        api.wait_finished(battle_id)
        assert "proof_of_work" not in api.battle(battle_id)  # the page has nothing to solve
        voted = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a", "proof": ""})
        assert voted.status_code == 200 and voted.json()["vote"]["counts"] is True, voted.text


def test_a_battle_started_before_signing_in_can_be_voted_on_after(web, worker, endpoints, people):
    person = confirmed_person("late@people.example.org")
    with httpx.Client(base_url=web, timeout=30) as http:
        battle_id = ApiClient(http).start("Say something kind.")
        assert sign_in(http, "late@people.example.org").status_code == 302
        api = ApiClient(http)  # the CSRF token changes at sign-in
        api.wait_finished(battle_id)
        assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "b"}).status_code == 200
    vote = Vote.objects.select_related("battle").get(battle__uuid=battle_id)
    assert vote.user_id == person.id and vote.battle.user_id is None


@pytest.fixture
def person_capped_web(stack, supervised_worker, endpoints, people):
    supervised_worker.ensure()
    for key in get_redis().scan_iter("arena:counted-votes:*"):  # today's counts of the session's other tests
        get_redis().delete(key)
    with web_with(stack, {"ARENA_COUNTED_VOTES_PER_PERSON_DAY": "1"}) as url:
        yield url


def _vote_in_new_battle(api: ApiClient, choice: str = "a") -> dict:
    battle_id = api.start("Say something kind.")
    api.wait_finished(battle_id)
    response = api.post(f"/api/battles/{battle_id}/vote", {"choice": choice})
    assert response.status_code == 200, response.text
    return response.json()["vote"]


def test_a_persons_counted_votes_share_one_daily_cap_across_browsers(person_capped_web):
    confirmed_person("capped@people.example.org")
    with (httpx.Client(base_url=person_capped_web, timeout=30) as laptop,
          httpx.Client(base_url=person_capped_web, timeout=30) as phone,
          httpx.Client(base_url=person_capped_web, timeout=30) as stranger):
        for http in (laptop, phone):
            assert sign_in(http, "capped@people.example.org").status_code == 302
        assert _vote_in_new_battle(ApiClient(laptop))["counts"] is True
        second = _vote_in_new_battle(ApiClient(phone))  # a fresh browser, the same person
        assert second["counts"] is False
        assert "cap of 1 counted votes from your account" in second["excluded_reason"]
        assert _vote_in_new_battle(ApiClient(stranger))["counts"] is True  # anonymous: the browser's cap
    assert Vote.objects.filter(user__email="capped@people.example.org").count() == 2


def test_wrong_passwords_on_the_sites_sign_in_are_throttled_by_axes(web, people):
    confirmed_person("guessed@people.example.org")
    with httpx.Client(base_url=web, timeout=30) as http:
        wrong = [sign_in(http, "guessed@people.example.org", "not-the-password") for _ in range(10)]
        assert [r.status_code for r in wrong] == [200] * 9 + [429]  # the tenth wrong one locks
        assert "not correct" in wrong[0].text
        refused = sign_in(http, "Guessed@People.example.org")  # the right password, another case: still refused
        assert refused.status_code == 429 and "too many login attempts" in refused.text.lower()
        assert "Sign out" not in http.get("/").text
    with httpx.Client(base_url=web, timeout=30) as http:  # another address is not locked
        confirmed_person("other@people.example.org")
        assert sign_in(http, "other@people.example.org").status_code == 302
    call_command("axes_reset_username", "guessed@people.example.org")
    with httpx.Client(base_url=web, timeout=30) as http:
        assert sign_in(http, "guessed@people.example.org").status_code == 302


def _battle_for(api: ApiClient, winner: str) -> str:
    """A finished anonymous battle and the side on which ``winner`` (an endpoint name) answered."""
    battle_id = api.start("Say something kind.")
    api.wait_finished(battle_id)
    battle = Battle.objects.select_related("endpoint_a").get(uuid=battle_id)
    return battle_id, "a" if battle.endpoint_a.name == winner else "b"


def test_an_arena_that_takes_no_anonymous_votes_refuses_them_with_a_sentence(web, worker, endpoints, people,
                                                                               text_arena):
    Arena.objects.filter(slug="text").update(anonymous_votes=False)
    confirmed_person("member@people.example.org")
    with httpx.Client(base_url=web, timeout=30) as http:
        api = ApiClient(http)
        arenas = {a["slug"]: a for a in api.get("/api/arenas").json()}
        assert arenas["text"]["anonymous_votes"] is False and arenas["text"]["anonymous_vote_weight"] == 1.0
        page = http.get("/").text
        assert 'id="sign-in-to-vote"' in page and "sign in to vote" in page

        battle_id = api.start("Say something kind.")
        api.wait_finished(battle_id)
        refused = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
        assert refused.status_code == 403
        assert refused.json()["detail"] == "Only signed-in people can vote in the Text arena: sign in to vote."
        assert not Vote.objects.exists()

        assert sign_in(http, "member@people.example.org").status_code == 302
        api = ApiClient(http)
        assert 'id="sign-in-to-vote"' not in http.get("/").text
        voted = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
        assert voted.status_code == 200 and voted.json()["vote"]["counts"] is True


def test_anonymous_votes_count_with_the_arenas_weight_in_the_ratings(web, worker, endpoints, people, text_arena):
    """Three anonymous votes for alpha at weight 0.25 weigh less than one signed-in vote for beta:
    counted one each, alpha would lead; weighted, beta does."""
    Arena.objects.filter(slug="text").update(anonymous_vote_weight=0.25)
    confirmed_person("weighty@people.example.org")
    with (httpx.Client(base_url=web, timeout=30) as anonymous,
          httpx.Client(base_url=web, timeout=30) as member):
        crowd = ApiClient(anonymous)
        assert "count in full" in anonymous.get("/").text
        for _ in range(3):
            battle_id, side = _battle_for(crowd, "alpha-model")
            vote = crowd.post(f"/api/battles/{battle_id}/vote", {"choice": side}).json()["vote"]
            assert vote["counts"] is True
        assert sign_in(member, "weighty@people.example.org").status_code == 302
        person = ApiClient(member)
        battle_id, side = _battle_for(person, "beta-model")
        assert person.post(f"/api/battles/{battle_id}/vote", {"choice": side}).json()["vote"]["counts"] is True

    assert sorted(Vote.objects.values_list("weight", flat=True)) == [0.25, 0.25, 0.25, 1.0]
    recompute()
    with httpx.Client(base_url=web, timeout=30) as http:
        board = http.get("/api/leaderboard?min_votes=0").json()
    ratings = {row["model"]: row["rating"] for row in board["rows"]}
    assert ratings["beta-model"] > ratings["alpha-model"], board["rows"]
    elo = {row["model"]: row["elo"] for row in board["rows"]}  # online Elo reads the weights vote by vote
    assert elo["beta-model"] > elo["alpha-model"], board["rows"]
    assert board["total_votes"] == 2  # 3 x 0.25 + 1 = 1.75 effective votes, rounded


def test_an_anonymous_weight_of_zero_keeps_the_vote_but_does_not_count_it(api, endpoints, text_arena):
    Arena.objects.filter(slug="text").update(anonymous_vote_weight=0.0)
    battle_id = api.start("Say something kind.")
    api.wait_finished(battle_id)
    vote = api.post(f"/api/battles/{battle_id}/vote", {"choice": "tie"}).json()["vote"]
    assert vote["counts"] is False
    assert vote["excluded_reason"] == "Anonymous votes do not count in this arena; sign in for your votes to count."
    assert Vote.objects.get(battle__uuid=battle_id).counts is False


def test_staff_edit_an_arenas_policy_and_bad_weights_are_refused(arena_db, text_arena):
    User.objects.filter(username="policy-staff").delete()
    staff = User.objects.create_superuser("policy-staff", "policy-staff@example.org", PASSWORD)
    try:
        client = Client()
        client.force_login(staff)
        form = {"title": "Text", "description": "", "position": "0", "anonymous_vote_weight": "1.5"}
        refused = client.post("/admin/arena/arena/text/change/", form)
        assert refused.status_code == 200
        assert "Ensure this value is less than or equal to 1.0." in refused.content.decode()
        saved = client.post("/admin/arena/arena/text/change/", {**form, "anonymous_vote_weight": "0.5"})
        assert saved.status_code == 302
        arena = Arena.objects.get(slug="text")
        assert arena.anonymous_votes is False and arena.anonymous_vote_weight == 0.5  # an unticked box: refused
    finally:
        staff.delete()


def test_providers_are_offered_only_where_configured(stack, web, arena_db):
    assert "GitHub" not in httpx.get(f"{web}/accounts/login/").text
    configured = {"ARENA_GITHUB_CLIENT_ID": "an-id", "ARENA_GITHUB_SECRET": "a-secret",
                  "ARENA_OIDC_CLIENT_ID": "an-id", "ARENA_OIDC_SECRET": "a-secret",
                  "ARENA_OIDC_SERVER_URL": "https://id.example.org", "ARENA_OIDC_NAME": "Example SSO"}
    with web_with(stack, configured) as url:
        page = httpx.get(f"{url}/accounts/login/").text
    assert "GitHub" in page and "Example SSO" in page and "Google" not in page
