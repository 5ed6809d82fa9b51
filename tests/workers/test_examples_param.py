"""An endpoint's worked examples (few-shot turns) go before every conversation, in every backend,
and a malformed list is refused with a sentence."""

import pytest

from workers.backends.base import Delta
from workers.backends.openai import OpenAIBackend
from workers.backends.transformers import TransformersBackend
from workers.backends.transformers import clean_params as clean_local
from workers.engine import SamplingParams, get_engine, render_prompt

EXAMPLES = [{"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": "2 + 2 = 4\nAnswer: 4"}]


@pytest.mark.parametrize("examples, sentence", [
    ("2 + 2 = 4", "examples must be a list of"),
    (EXAMPLES[:1], "must hold pairs of a user turn and an assistant turn"),
    (EXAMPLES * 9, "at most 8 pairs; it has 18 turns"),
    (EXAMPLES[::-1], 'examples[0] must be {"role": "user"'),
    ([EXAMPLES[0], {"role": "assistant", "content": "4", "name": "x"}], 'examples[1] must be {"role": "assistant"'),
    ([EXAMPLES[0], {"role": "assistant", "content": 4}], "content must be text"),
])
def test_bad_examples_are_refused_with_a_sentence(examples, sentence):
    with pytest.raises(ValueError) as caught:
        clean_local({"model": "smollm2", "examples": examples})
    assert sentence in str(caught.value)


def test_no_examples_is_an_empty_list():
    assert clean_local({"model": "smollm2"})["examples"] == []


def test_openai_sends_system_then_examples_then_the_conversation():
    backend = OpenAIBackend({"base_url": "http://h/v1", "model": "m", "system_prompt": "Be brief.",
                             "examples": EXAMPLES})
    body = backend._body([{"role": "user", "content": "3 + 3?"}])
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, *EXAMPLES,
                                {"role": "user", "content": "3 + 3?"}]


def test_a_local_endpoint_answers_as_if_the_examples_were_earlier_turns(tiny_model_dir):
    question = [{"role": "user", "content": "3 + 3?"}]
    backend = TransformersBackend({"model": str(tiny_model_dir), "temperature": 0, "max_new_tokens": 12,
                                   "examples": EXAMPLES})
    streamed = "".join(item.text for item in backend.stream(question, should_stop=lambda: False)
                       if isinstance(item, Delta))
    engine = get_engine(str(tiny_model_dir), device="auto", dtype="auto")
    direct = engine.generate([render_prompt(engine.loaded.tokenizer, [*EXAMPLES, *question])],
                             SamplingParams(max_new_tokens=12, temperature=0))[0].text
    without = engine.generate([render_prompt(engine.loaded.tokenizer, question)],
                              SamplingParams(max_new_tokens=12, temperature=0))[0].text
    assert streamed == direct
    assert direct != without  # the tiny model's answer depends on the turns before it, so the check can fail
