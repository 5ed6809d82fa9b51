"""Signing in from the page: the sign-in page in the site's layout, and an arena that takes votes
only from signed-in people, which says so before the vote and keeps the battle across the sign-in."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from playwright.sync_api import expect

from arena.models import Arena, Vote
from tests.browser.battle_page import send, vote_button, wait_until_answered

EMAIL, PASSWORD = "reader@people.example.org", "a-long-enough-password-42"


@pytest.fixture
def person(arena_db):
    user = User.objects.create_user(username="reader", email=EMAIL, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    yield user
    user.delete()


@pytest.fixture
def members_only(arena_db):
    Arena.objects.filter(slug="text").update(anonymous_votes=False)
    yield
    Arena.objects.filter(slug="text").update(anonymous_votes=True)


def test_a_person_signs_in_from_the_header_and_out_again(page, person):
    page.goto("/about/")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/about/$"))
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    expect(page.get_by_role("link", name="Model Arena")).to_be_visible()  # the site's own header
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/about/$"))
    account = page.get_by_role("navigation", name="Account")
    expect(account).to_contain_text(EMAIL)
    account.get_by_role("link", name="Sign out").click()
    page.get_by_role("button", name="Sign Out").click()
    expect(page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in")).to_be_visible()


def test_an_arena_for_signed_in_voters_asks_to_sign_in_before_the_vote(page, scripted_pair, person, members_only):
    page.goto("/")
    notice = page.locator("#sign-in-to-vote")
    expect(notice).to_contain_text("Only signed-in people can vote in the Text arena")
    send(page, "How do I make tea?")
    wait_until_answered(page)
    expect(vote_button(page, "a")).to_be_disabled()  # answers finished, but not signed in

    notice.get_by_role("link", name="sign in to vote").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page.locator("#sign-in-to-vote")).to_have_count(0)
    wait_until_answered(page)  # the same battle, continued after the sign-in
    vote_button(page, "b").click()
    expect(page.get_by_role("heading", name="The models are revealed")).to_be_visible()
    vote = Vote.objects.get()
    assert vote.user_id == person.id and vote.choice == "b"
