"""Staff add an endpoint through the admin's form for its kind: fields with help and limits, the
backend's own sentence beside the field it names, "Test endpoint" naming a refused connection, and
the endpoint list with its live columns in view at 1280 px."""

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from arena.localservices import free_port
from arena.models import ModelEndpoint
from tests.browser.conftest import DESKTOP
from tests.conftest import TINY_QUEUE

USER, PASSWORD = "admin-form", "pw-form-123456"


@pytest.fixture
def staff(page: Page, arena_db):
    User.objects.filter(username=USER).delete()
    User.objects.create_superuser(USER, "admin@example.org", PASSWORD)
    page.goto("/admin/login/?next=/admin/arena/modelendpoint/")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Select model endpoint to change")).to_be_visible()
    yield page
    User.objects.filter(username=USER).delete()


def add_openai_endpoint(page: Page, name: str, base_url: str, model: str, **fields) -> None:
    page.goto("/admin/arena/modelendpoint/add/")
    page.get_by_label("Name:", exact=True).fill(name)
    page.get_by_label("Backend:").select_option("openai")
    page.get_by_label("Queue:").fill(TINY_QUEUE)
    remote = page.get_by_role("group", name="Parameters: OpenAI-compatible server")
    remote.get_by_label("Base URL:").fill(base_url)
    remote.get_by_label("Model id:").fill(model)
    for label, value in fields.items():
        remote.get_by_label(label).fill(value)
    page.get_by_role("button", name="Save", exact=True).click()


def run_test_action(page: Page, name: str) -> None:
    page.goto("/admin/arena/modelendpoint/")
    page.get_by_role("row", name=re.compile(name)).get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("test_endpoint")
    page.get_by_role("button", name="Go").click()


def test_the_form_shows_the_fields_of_the_chosen_kind(staff):
    page = staff
    page.goto("/admin/arena/modelendpoint/add/")
    local = page.get_by_role("group", name="Parameters: Local transformers model")
    remote = page.get_by_role("group", name="Parameters: OpenAI-compatible server")
    expect(local).to_be_hidden()
    page.get_by_label("Backend:").select_option("openai")
    expect(remote).to_be_visible()
    expect(local).to_be_hidden()
    expect(remote).to_contain_text("usually ending in /v1")  # help text
    page.get_by_label("Backend:").select_option("transformers")
    expect(local).to_be_visible()
    expect(remote).to_be_hidden()
    expect(page.get_by_label("Other parameters (JSON):")).to_be_visible()  # the advanced field stays


def test_staff_add_a_working_endpoint_and_the_test_names_a_refused_connection(staff, serving, scripted_models):
    page = staff
    add_openai_endpoint(page, "lyra-remote", "ftp://nowhere", "markdown-a", **{"Temperature:": "3"})
    expect(page.locator(".field-openai_temperature .errorlist")).to_have_text(
        "Ensure this value is less than or equal to 2.")
    page.locator("#id_openai_temperature").fill("0.5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".field-openai_base_url .errorlist")).to_have_text(
        "base_url must be an http(s) address, not 'ftp://nowhere'.")  # the backend's sentence, beside its field
    page.get_by_label("Base URL:").fill(scripted_models.base_url)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    saved = ModelEndpoint.objects.get(name="lyra-remote")
    assert saved.params["base_url"] == scripted_models.base_url and saved.params["temperature"] == 0.5

    run_test_action(page, "lyra-remote")
    expect(page.locator(".messagelist")).to_contain_text(
        re.compile(r"Lyra-remote answered [\s\S]*: \d+ tokens, first token after \d+ ms"), timeout=60_000)

    port = free_port()
    add_openai_endpoint(page, "nobody-home", f"http://127.0.0.1:{port}/v1", "markdown-a")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    run_test_action(page, "nobody-home")
    expect(page.locator(".messagelist")).to_contain_text(
        f"Nobody-home failed: Connection refused by 127.0.0.1:{port}: nothing is listening there "
        f"(POST http://127.0.0.1:{port}/v1/chat/completions)", timeout=60_000)


def test_editing_shows_the_stored_parameters_in_their_fields(staff, scripted_models):
    page = staff
    endpoint = ModelEndpoint.objects.create(
        name="vega-remote", backend="openai", queue=TINY_QUEUE,
        params={"base_url": scripted_models.base_url, "model": "markdown-b", "max_tokens": 300,
                "extra_body": {"top_k": 5}})
    page.goto(f"/admin/arena/modelendpoint/{endpoint.pk}/change/")
    expect(page.get_by_label("Base URL:")).to_have_value(scripted_models.base_url)
    expect(page.locator("#id_openai_max_tokens")).to_have_value("300")
    expect(page.get_by_label("Other parameters (JSON):")).to_have_value(re.compile(r'"extra_body"'))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    endpoint.refresh_from_db()
    assert endpoint.params["max_tokens"] == 300 and endpoint.params["extra_body"] == {"top_k": 5}


def test_the_endpoint_list_fits_1280_px_with_its_live_columns(staff, scripted_models):
    page = staff
    for i in range(3):
        ModelEndpoint.objects.create(name=f"a-rather-long-endpoint-name-{i}", organisation="Some Organisation Ltd",
                                     backend="openai", queue=f"queue-number-{i}", codename=f"codename-{i}",
                                     name_published=False, arenas=["text", "search"],
                                     params={"base_url": scripted_models.base_url, "model": "markdown-a"})
    page.set_viewport_size(DESKTOP)
    page.goto("/admin/arena/modelendpoint/")
    for column in ("Live", "Queued", "Tok/s 24 h", "Errors 24 h"):
        box = page.get_by_role("columnheader", name=column).bounding_box()
        assert box["x"] + box["width"] <= DESKTOP["width"], f"{column} is off-screen: {box}"
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
