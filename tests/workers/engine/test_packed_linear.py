import dataclasses
import logging

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from workers.engine import BatchEngine, SamplingParams, packed_linear
from workers.engine.packed_linear import PackedLinear, pack_linears, packing_available, packing_setting

from .conftest import chat

pytestmark = pytest.mark.skipif(not packing_available(), reason="this torch has no oneDNN")

CPU = torch.device("cpu")


def dense_model(tiny_dir, dtype=torch.float32):
    return AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=dtype, local_files_only=True).eval()


def linear_layers(model):
    return {name: module for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


@pytest.mark.parametrize("shape", [(1, 64), (3, 64), (8, 64), (9, 64), (130, 64), (2, 5, 64)])
@pytest.mark.parametrize("bias", [False, True])
def test_a_packed_layer_computes_what_f_linear_does(shape, bias):
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 96, bias=bias)
    weight = linear.weight.detach().clone()
    layer = PackedLinear(linear, packed_linear._Model("test"))
    x = torch.randn(*shape)
    torch.testing.assert_close(layer(x), F.linear(x, weight, linear.bias), rtol=1e-5, atol=1e-5)
    strided = torch.randn(shape[0], 128)[:, ::2]  # not contiguous: every other column
    torch.testing.assert_close(layer(strided), F.linear(strided, weight, linear.bias), rtol=1e-5, atol=1e-5)
    assert layer.weight is None


def test_the_packed_copy_is_the_size_of_the_weight_it_replaces():
    # oneDNN pads a matrix up to whole blocks (here: 64 outputs, 16 inputs); these shapes need none.
    for out_features, in_features in [(128, 64), (576, 576), (192, 576), (1536, 576), (576, 1536)]:
        layer = PackedLinear(torch.nn.Linear(in_features, out_features, bias=False), packed_linear._Model("test"))
        assert layer.packed_bytes == out_features * in_features * 4


def test_loading_packs_every_linear_layer_in_place_of_its_dense_weight(tiny, tiny_dir):
    dense = dense_model(tiny_dir)
    layers = linear_layers(dense)
    assert not linear_layers(tiny.model)  # none left dense
    for name, reference in layers.items():
        layer = tiny.model.get_submodule(name)
        assert isinstance(layer, PackedLinear) and layer.weight is None
        assert torch.equal(layer.packed.to_dense(), reference.weight)  # the same numbers, in another layout
    linear_bytes = sum(m.weight.numel() * m.weight.element_size() for m in layers.values())
    # What the model still holds densely is the rest: embeddings and norms.
    rest = sum(p.numel() * p.element_size() for p in tiny.model.parameters())
    assert rest == tiny.weight_bytes - linear_bytes > 0


def test_it_logs_what_it_packed_and_what_it_did_not(tiny_dir, caplog):
    with caplog.at_level(logging.INFO, logger="workers.engine.packed_linear"):
        packing = pack_linears(dense_model(tiny_dir), CPU)
        kept = pack_linears(dense_model(tiny_dir), CPU, setting="0")
    assert packing.layers == 15 and "replace the dense weights" in packing.reason  # 2 layers x 7, and the head
    assert kept.layers == 0 and kept.reason == "ARENA_PACKED_WEIGHTS=0"
    messages = [r.getMessage() for r in caplog.records]
    assert any("packed for oneDNN: 15 linear layers" in m for m in messages)
    assert any("not packed: ARENA_PACKED_WEIGHTS=0" in m for m in messages)


@pytest.mark.parametrize(("dtype", "device", "reason"), [
    (torch.bfloat16, CPU, "the weights are torch.bfloat16, not float32"),
    (torch.float32, torch.device("cuda"), "device cuda (packing is for the CPU)"),
])
def test_only_float32_models_on_the_cpu_are_packed(tiny_dir, dtype, device, reason):
    model = dense_model(tiny_dir, dtype)
    assert pack_linears(model, device).reason == reason
    assert len(linear_layers(model)) == 15 and not any(isinstance(m, PackedLinear) for m in model.modules())


def tied_model():
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)).eval()


def test_a_head_tied_to_the_input_embedding_stays_dense_with_it_unless_told(caplog):
    hidden = torch.randn(3, 32)
    with caplog.at_level(logging.INFO, logger="workers.engine.packed_linear"):
        model = tied_model()
        embedding = model.get_input_embeddings().weight
        assert model.lm_head.weight is embedding
        assert pack_linears(model, CPU).layers == 7  # the one layer's seven projections
        assert isinstance(model.lm_head, torch.nn.Linear) and model.lm_head.weight is embedding  # one copy
        both = tied_model()
        embedding = both.get_input_embeddings().weight
        assert pack_linears(both, CPU, setting="all").layers == 8
    assert isinstance(both.lm_head, PackedLinear) and both.get_input_embeddings().weight is embedding
    torch.testing.assert_close(both.lm_head(hidden), F.linear(hidden, embedding), rtol=1e-5, atol=1e-5)
    messages = [r.getMessage() for r in caplog.records]
    assert "tied to the input embedding and stays dense with it" in messages[0]
    assert "its packed copy is a second one" in messages[1]


def test_a_setting_it_does_not_know_is_refused_with_the_ones_it_does():
    assert [packing_setting(v) for v in (None, "", " 1 ", "ALL", "0")] == ["1", "1", "1", "all", "0"]
    with pytest.raises(ValueError, match=r"ARENA_PACKED_WEIGHTS='yes' is not one of '1' \(the linear layers"):
        packing_setting("yes")


def test_a_failing_packed_product_falls_back_loudly_to_the_same_text(tiny, tiny_dir, monkeypatch, caplog):
    prompts = [chat(tiny, q) for q in ("Hi", "What is the capital of France?", "user " * 20)]
    params = SamplingParams(max_new_tokens=16, temperature=0)
    reference = BatchEngine(tiny)
    try:
        expected = [c.text for c in reference.generate(prompts, params)]
    finally:
        reference.close()
    model = dense_model(tiny_dir)
    weights = {name: m.weight.detach().clone() for name, m in linear_layers(model).items()}
    assert pack_linears(model, CPU).layers == 15
    products, calls = packed_linear._linear, []

    def breaks_after_a_while(*args):
        calls.append(1)
        if len(calls) > 100:  # after the prompts' prefill and a few decoding steps
            raise RuntimeError("linear_pointwise: simulated failure of a private operator")
        return products(*args)

    monkeypatch.setattr(packed_linear, "_linear", breaks_after_a_while)
    engine = BatchEngine(dataclasses.replace(tiny, model=model, source="fresh tiny"))
    try:
        with caplog.at_level(logging.ERROR, logger="workers.engine.packed_linear"):
            texts = [c.text for c in engine.generate(prompts, params)]
    finally:
        engine.close()
    assert len(calls) == 101 and texts == expected  # the 101st failed, and no packed product ran after it
    for name, weight in weights.items():  # every layer is dense again, with its exact weights
        layer = model.get_submodule(name)
        assert layer.packed is None and torch.equal(layer.weight, weight)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "simulated failure" in errors[0] and "dense weight" in errors[0]


def test_packing_that_disagrees_with_f_linear_is_refused_loudly(tiny_dir, monkeypatch, caplog):
    monkeypatch.setattr(packed_linear, "_linear", lambda x, packed, bias, *rest: torch.zeros(x.shape[0],
                                                                                              packed.shape[0]))
    model = dense_model(tiny_dir)
    with caplog.at_level(logging.ERROR, logger="workers.engine.packed_linear"):
        packing = pack_linears(model, CPU)
    assert packing.layers == 0 and "differs from F.linear" in packing.reason
    assert len(linear_layers(model)) == 15 and not any(isinstance(m, PackedLinear) for m in model.modules())
    assert any("Packing the weights" in r.getMessage() and "keeps its dense weights" in r.getMessage()
               for r in caplog.records)
