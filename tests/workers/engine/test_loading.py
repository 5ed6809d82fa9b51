import json
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from workers.engine.loading import converted_gguf_dir, load_model, smollm2_gguf_path

ROOT = Path(__file__).resolve().parents[3]


def test_it_loads_a_model_directory_once_per_process(tiny_dir, tiny):
    results = []
    threads = [threading.Thread(target=lambda: results.append(load_model(str(tiny_dir), device="cpu")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result is tiny for result in results)
    assert tiny.device.type == "cpu" and str(tiny.dtype) == "torch.float32"


def test_it_stops_on_the_end_of_turn_token(tiny):
    assert tiny.tokenizer.convert_tokens_to_ids("<|im_end|>") in tiny.stop_token_ids


def test_it_refuses_a_source_that_is_not_local(tmp_path):
    with pytest.raises(ValueError, match="never downloaded"):
        load_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    with pytest.raises(ValueError):
        load_model(str(tmp_path / "missing.gguf"))


def test_a_model_that_fails_to_load_raises_in_the_caller(tiny_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    for weights in broken.glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(OSError, match="model.safetensors"):
        load_model(str(broken), device="cpu")


@pytest.mark.slow
def test_it_converts_the_gguf_to_safetensors(smollm2_converted, smollm2_cache):
    files = {path.name for path in smollm2_converted.iterdir()}
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= files
    assert "quantization_config" not in json.loads((smollm2_converted / "config.json").read_text())
    # Only the finished directory and its lock are left in the cache: no half-written scratch.
    assert sorted(p.name for p in smollm2_cache.iterdir()) == sorted(
        [smollm2_converted.name, smollm2_converted.name + ".lock"])


@pytest.mark.slow
def test_it_reuses_the_converted_copy(smollm2_converted, smollm2_cache, caplog):
    with caplog.at_level(logging.INFO, logger="workers.engine.loading"):
        assert converted_gguf_dir(smollm2_gguf_path(), smollm2_cache) == smollm2_converted
    assert "Converting" not in caplog.text


@pytest.mark.slow
def test_it_loads_smollm2_with_its_end_of_turn_token(smollm2):
    assert smollm2.tokenizer.convert_tokens_to_ids("<|im_end|>") in smollm2.stop_token_ids
    assert smollm2.model.config.model_type == "llama"


@pytest.mark.slow
def test_a_restarted_process_loads_from_the_cache(smollm2_converted, smollm2_cache):
    script = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
        "from workers.engine.loading import load_model\n"
        f"loaded = load_model('smollm2', device='cpu', cache_dir={str(smollm2_cache)!r})\n"
        "print('vocab', len(loaded.tokenizer))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "Converting" not in result.stdout + result.stderr
    assert "vocab 49152" in result.stdout
