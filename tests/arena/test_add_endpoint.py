"""`manage.py add_endpoint` registers endpoints from the shell and refuses bad input with a sentence."""

import pytest
from django.core.management import CommandError, call_command

from arena.models import ModelEndpoint


def test_it_adds_and_updates_an_endpoint(arena_db, capsys):
    call_command("add_endpoint", "--name", "gpu-llama", "--backend", "openai", "--queue", "remote",
                 "--param", "base_url=http://gpu-1:8000/v1", "--param", "model=llama", "--param", "temperature=0.2",
                 "--param", 'extra_body={"top_k": 20}', "--organisation", "Meta", "--api-key", "sk-1")
    endpoint = ModelEndpoint.objects.get(name="gpu-llama")
    assert endpoint.params["temperature"] == 0.2 and endpoint.params["extra_body"] == {"top_k": 20}
    assert endpoint.queue == "remote" and endpoint.api_key == "sk-1" and endpoint.organisation == "Meta"
    call_command("add_endpoint", "--name", "gpu-llama", "--backend", "openai", "--param", "base_url=http://gpu-2/v1",
                 "--param", "model=llama", "--weight", "2")
    endpoint.refresh_from_db()
    assert endpoint.params["base_url"] == "http://gpu-2/v1" and endpoint.sampling_weight == 2
    assert "updated gpu-llama" in capsys.readouterr().out


@pytest.mark.parametrize("args, sentence", [
    (["--backend", "openai", "--param", "model=x"], "base_url is required"),
    (["--backend", "openai", "--param", "base_url"], "--param takes key=value"),
    (["--backend", "transformers", "--param", "model=/nope/m.gguf"], "does not exist on this host"),
    (["--backend", "openai", "--param", "base_url=http://h/v1", "--param", "model=m", "--weight", "-1"],
     "--weight must be zero or more"),
])
def test_it_refuses_bad_input(arena_db, args, sentence):
    with pytest.raises(CommandError, match=sentence.replace("(", r"\(")):
        call_command("add_endpoint", "--name", "bad", *args)
    assert not ModelEndpoint.objects.filter(name="bad").exists()
