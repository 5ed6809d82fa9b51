"""Staff manage endpoints in the Django admin: bad parameters are refused with a sentence,
API keys are never shown back, and "Test endpoint" runs a prompt through the real worker."""

import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.models import Arena, ModelEndpoint


@pytest.fixture
def staff(arena_db):
    User.objects.filter(username="staff").delete()
    user = User.objects.create_superuser("staff", "staff@example.org", "pw-staff-123")
    client = Client()
    client.force_login(user)  # sign-in itself is tested through the web server (test_settings.py)
    yield client
    User.objects.filter(username="staff").delete()


def _form(**overrides):
    data = {"name": "new-model", "organisation": "Org", "license": "MIT", "description": "", "aliases": "",
            "backend": "openai", "params": json.dumps({"base_url": "http://gpu-1:8000/v1", "model": "llama"}),
            "api_key": "", "queue": "remote", "enabled": "on", "sampling_weight": "1.0", "codename": "",
            "name_published": "on", "created_at_0": "2026-01-01", "created_at_1": "00:00:00"}
    return {**data, **overrides}


@pytest.mark.parametrize("params, sentence", [
    ({"model": "llama"}, "base_url is required"),
    ({"base_url": "ftp://x", "model": "llama"}, "must be an http(s) address"),
    ({"base_url": "http://h/v1", "model": "m", "temperature": 9}, "temperature must be between 0 and 2"),
    ({"base_url": "http://h/v1", "model": "m", "colour": "red"}, "Unknown parameter(s) for the openai backend: colour"),
])
def test_it_refuses_bad_parameters_with_a_sentence(staff, params, sentence):
    response = staff.post("/admin/arena/modelendpoint/add/", _form(params=json.dumps(params)))
    assert response.status_code == 200
    assert sentence in response.content.decode()
    assert not ModelEndpoint.objects.filter(name="new-model").exists()


def test_it_refuses_a_missing_local_model(staff):
    response = staff.post("/admin/arena/modelendpoint/add/",
                          _form(backend="transformers", params=json.dumps({"model": "/nowhere/model.gguf"})))
    assert "does not exist on this host" in response.content.decode()


def test_it_refuses_an_unknown_dtype_and_takes_bfloat16(staff):
    response = staff.post("/admin/arena/modelendpoint/add/",
                          _form(backend="transformers", params=json.dumps({"model": "smollm2", "dtype": "int3"})))
    assert "dtype must be one of auto, float32, bfloat16, float16, not &#x27;int3&#x27;" in response.content.decode()
    response = staff.post("/admin/arena/modelendpoint/add/",
                          _form(backend="transformers", params=json.dumps({"model": "smollm2", "dtype": "bfloat16"})))
    assert response.status_code == 302
    assert ModelEndpoint.objects.get(name="new-model").params["dtype"] == "bfloat16"


def test_it_keeps_api_keys_out_of_pages(staff):
    response = staff.post("/admin/arena/modelendpoint/add/", _form(api_key="sk-very-secret-key-123"))
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = ModelEndpoint.objects.get(name="new-model")
    assert endpoint.api_key == "sk-very-secret-key-123"
    assert "sk-very-secret" not in staff.get(f"/admin/arena/modelendpoint/{endpoint.id}/change/").content.decode()
    assert "sk-very-secret" not in staff.get("/admin/arena/modelendpoint/").content.decode()
    # Saving without typing a key keeps the stored one.
    staff.post(f"/admin/arena/modelendpoint/{endpoint.id}/change/", _form(description="edited"))
    endpoint.refresh_from_db()
    assert endpoint.description == "edited" and endpoint.api_key == "sk-very-secret-key-123"


def test_staff_choose_an_endpoints_arenas(staff):
    Arena.objects.get_or_create(slug="search", defaults={"title": "Search", "position": 1})
    form = staff.get("/admin/arena/modelendpoint/add/").content.decode()
    assert re.search(r'name="arenas" value="text"[^>]*checked', form), re.findall(r"<input[^>]*arenas[^>]*>", form)
    response = staff.post("/admin/arena/modelendpoint/add/", _form(arenas=["search", "text"]))
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = ModelEndpoint.objects.get(name="new-model")
    assert endpoint.arenas == ["text", "search"]
    assert "text, search" in staff.get("/admin/arena/modelendpoint/").content.decode()
    staff.post(f"/admin/arena/modelendpoint/{endpoint.id}/change/", _form(arenas=["search"]))
    endpoint.refresh_from_db()
    assert endpoint.arenas == ["search"]
    assert staff.post("/admin/arena/modelendpoint/add/", _form(name="other", arenas=["astrology"])).status_code == 200


def test_staff_retire_a_model_and_it_leaves_the_leaderboard_by_default(staff):
    response = staff.post("/admin/arena/modelendpoint/add/", _form(arenas=["text"]))
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = ModelEndpoint.objects.get(name="new-model")
    assert endpoint.retired is False
    assert staff.post(f"/admin/arena/modelendpoint/{endpoint.id}/change/",
                      _form(arenas=["text"], retired="on")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.retired is True
    retired_list = staff.get("/admin/arena/modelendpoint/?retired__exact=1").content.decode()
    assert "new-model" in retired_list
    assert "new-model" not in staff.get("/admin/arena/modelendpoint/?retired__exact=0").content.decode()


def test_admin_requires_staff(arena_db):
    response = Client().get("/admin/arena/modelendpoint/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_test_action_runs_through_the_worker(staff, worker, endpoints):
    response = staff.post("/admin/arena/modelendpoint/",
                          {"action": "test_endpoint", "_selected_action": [endpoints[0].id]}, follow=True)
    page = response.content.decode()
    assert "alpha-model answered" in page.lower() and "tokens/s" in page and "first token after" in page


def test_the_test_action_explains_a_failure(staff, worker, arena_db):
    ModelEndpoint.objects.create(name="unreachable", backend="openai", queue="tiny",
                                 params={"base_url": "http://127.0.0.1:9/v1", "model": "m", "timeout": 2})
    endpoint = ModelEndpoint.objects.get(name="unreachable")
    response = staff.post("/admin/arena/modelendpoint/", {"action": "test_endpoint", "_selected_action": [endpoint.id]},
                          follow=True)
    assert ("Unreachable failed: Connection refused by 127.0.0.1:9: nothing is listening there "
            "(POST http://127.0.0.1:9/v1/chat/completions)") in response.content.decode()


def test_the_list_shows_worker_and_health(staff, worker, endpoints):
    page = staff.get("/admin/arena/modelendpoint/").content.decode()
    assert "Live" in page and "Tok/s 24 h" in page and "Errors 24 h" in page


def test_it_takes_the_parameters_from_the_fields_of_their_kind(staff):
    response = staff.post("/admin/arena/modelendpoint/add/", _form(
        params="", openai_base_url="http://gpu-1:8000/v1/", openai_model="llama", openai_max_tokens="300",
        tf_model="/only/read/for/transformers"))
    assert response.status_code == 302, re.findall(r'errorlist[\s\S]{0,300}', response.content.decode())
    params = ModelEndpoint.objects.get(name="new-model").params
    assert params["base_url"] == "http://gpu-1:8000/v1" and params["model"] == "llama" and params["max_tokens"] == 300


def test_a_field_wins_over_the_same_key_in_the_json(staff):
    response = staff.post("/admin/arena/modelendpoint/add/", _form(
        params=json.dumps({"base_url": "http://gpu-1:8000/v1", "model": "llama", "temperature": 1.5}),
        openai_temperature="0.2"))
    assert response.status_code == 302
    params = ModelEndpoint.objects.get(name="new-model").params
    assert params["temperature"] == 0.2 and params["extra_body"] == {} and params["model"] == "llama"


@pytest.mark.parametrize("fields, field, sentence", [
    ({"openai_base_url": "ftp://x", "openai_model": "m"}, "openai_base_url",
     "base_url must be an http(s) address, not &#x27;ftp://x&#x27;."),
    ({"openai_base_url": "http://h/v1", "openai_model": "m", "openai_temperature": "9"}, "openai_temperature",
     "Ensure this value is less than or equal to 2."),
    ({"openai_base_url": "http://h/v1"}, "openai_model", "model is required: the model id the server expects."),
])
def test_it_shows_each_sentence_beside_its_field(staff, fields, field, sentence):
    response = staff.post("/admin/arena/modelendpoint/add/", _form(params="", **fields))
    html = response.content.decode()
    assert re.search(rf'<ul class="errorlist"[^>]*id="id_{field}_error"[^>]*>\s*<li>{re.escape(sentence)}</li>', html) \
        or re.search(rf'field-{field}[\s\S]{{0,400}}{re.escape(sentence)}', html), html[:3000]
    assert not ModelEndpoint.objects.filter(name="new-model").exists()
