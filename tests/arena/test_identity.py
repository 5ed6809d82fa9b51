from types import SimpleNamespace

from arena.identity import find_identity_leak


def endpoint(*words):
    return SimpleNamespace(identity_words=lambda: list(words))


def test_it_finds_a_model_or_maker_named_in_an_answer():
    endpoints = [endpoint("llama-3-8b", "Meta", "Llama"), endpoint("claude-3", "Anthropic")]
    assert find_identity_leak(["I am an AI made by anthropic."], endpoints) == "anthropic"
    assert find_identity_leak(["Hello!", "I'm Llama, happy to help"], endpoints) == "Llama"


def test_it_matches_whole_words_only():
    endpoints = [endpoint("Meta", "GPT")]
    assert find_identity_leak(["Metaphors and metadata are fine; so is GPTQ."], endpoints) is None
    assert find_identity_leak([""], [endpoint("", "  ", "ab")]) is None


def test_it_sees_through_invisible_characters_inside_a_name():
    endpoints = [endpoint("Claude", "Anthropic")]
    assert find_identity_leak(["Hi, I'm Cl\u200baude."], endpoints) == "Claude"
    assert find_identity_leak(["Made by Anth\u00adro\u2060pic\ufe0f."], endpoints) == "Anthropic"
    assert find_identity_leak(["Cla\u202eude"], endpoints) == "Claude"


def test_it_reads_look_alike_letters_as_the_latin_ones_they_show():
    endpoints = [endpoint("Claude", "Anthropic")]
    assert find_identity_leak(["I am \u0421l\u0430ude."], endpoints) == "\u0421l\u0430ude"  # Cyrillic С and а
    assert (find_identity_leak(["Made by \u0410nthr\u03bfpic"], endpoints)
            == "\u0410nthr\u03bfpic")  # Cyrillic А, Greek ο
    assert find_identity_leak(["Cl\u00e0ude here"], endpoints) == "Cl\u00e0ude"  # an accent does not hide it


def test_it_reads_fullwidth_and_mathematical_letters():
    assert find_identity_leak(["\uff27\uff30\uff34\uff0d\uff14 here"], []) == "\uff27\uff30\uff34\uff0d\uff14"
    assert find_identity_leak(["I am \U0001d402\U0001d425\U0001d41a\U0001d42e\U0001d41d\U0001d41e"], []) is not None


def test_it_excludes_answers_claiming_a_well_known_model_or_maker():
    for text, named in [("I am GPT-4, a large language model.", "GPT-4"), ("I'm ChatGPT.", "ChatGPT"),
                        ("As Claude 3 Opus, I think so.", "Claude 3 Opus"), ("I\u2019m Claude.", "Claude"),
                        ("Running on Llama 3.1 here.", "Llama 3.1"),
                        ("I was trained by Google DeepMind.", "Google DeepMind"),
                        ("I am a language model developed by OpenAI.", "OpenAI"),
                        ("I'm an AI assistant from Meta.", "Meta"),
                        ("I am Phi-3-mini.", "Phi-3-mini"), ("This is Command R+ speaking.", "Command R+"),
                        ("Ask qwen2.5-7b-instruct.", "qwen2.5-7b-instruct"), ("I am Gemini Pro.", "Gemini"),
                        ("My name is Grok.", "Grok"), ("I was created by Hugging Face.", "Hugging Face")]:
        assert find_identity_leak([text], []) == named, text


def test_it_lets_ordinary_words_that_share_a_name_pass():
    for text in ["The llama is a camelid.",
                 "Claude Monet painted water lilies; Claude Shannon founded information theory.",
                 "The golden ratio phi is about 1.618.", "Run the command with -r to recurse.",
                 "Gemini is an air sign.",
                 "Search it on Google, or ask Microsoft support.", "Call the OpenAI API with your key.",
                 "The anthropic principle in cosmology.", "Let me grok this first.", "The ideas cohere well.",
                 "Edit the metadata; GPTQ quantises weights.", "Soft\u00adware with zero\u200bwidth spaces is fine."]:
        assert find_identity_leak([text], []) is None, text
