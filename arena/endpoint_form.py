"""The admin's endpoint form: the parameters of each backend kind as fields with help and limits, and
the rest as JSON ("advanced"). The backend's own ``validate_params`` has the last word, and its
sentence is shown beside the field it names."""

from dataclasses import dataclass

from django import forms

from arena.models import Arena, Backend, ModelEndpoint, default_arenas
from workers.backends import validate_params


@dataclass(frozen=True)
class Param:
    key: str  # in ModelEndpoint.params
    field: forms.Field


def _temperature(default: float) -> forms.Field:
    return forms.FloatField(required=False, min_value=0, max_value=2, label="Temperature",
                            help_text=f"0 always picks the likeliest token; higher is more varied. Default {default}.")


def _system_prompt() -> forms.Field:
    return forms.CharField(required=False, label="System prompt", widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="Sent before every conversation. Do not name the model here if it is to "
                                     "stay anonymous: answers that name it are excluded from the ratings.")


PARAMS: dict[str, dict[str, Param]] = {
    Backend.TRANSFORMERS: {
        "tf_model": Param("model", forms.CharField(
            required=False, label="Model",
            help_text="A Hugging Face model folder (with config.json) or a .gguf file on the worker host, "
                      "or \"smollm2\" for the demo model.")),
        "tf_device": Param("device", forms.ChoiceField(
            required=False, label="Device", choices=[("", "auto (CUDA when present)"), ("cpu", "cpu"),
                                                     ("cuda", "cuda")])),
        "tf_dtype": Param("dtype", forms.ChoiceField(
            required=False, label="Number format",
            choices=[("", "auto (bfloat16 on CUDA, float32 on CPU)"), ("float32", "float32"),
                     ("bfloat16", "bfloat16"), ("float16", "float16")])),
        "tf_temperature": Param("temperature", _temperature(0.7)),
        "tf_top_p": Param("top_p", forms.FloatField(required=False, min_value=0.01, max_value=1, label="Top p",
                                                    help_text="Sample from the likeliest tokens that make up "
                                                              "this share of probability. Default 1.")),
        "tf_max_new_tokens": Param("max_new_tokens", forms.IntegerField(
            required=False, min_value=1, max_value=8192, label="Most tokens per answer",
            help_text="Default 256; anonymous battles also apply the arena's common cap.")),
        "tf_system_prompt": Param("system_prompt", _system_prompt()),
    },
    Backend.OPENAI: {
        "openai_base_url": Param("base_url", forms.CharField(
            required=False, label="Base URL",
            help_text="The server's OpenAI-compatible root, usually ending in /v1, e.g. http://gpu-host:8000/v1. "
                      "The worker on the queue below must be able to reach it.")),
        "openai_model": Param("model", forms.CharField(
            required=False, label="Model id",
            help_text="The model id the server expects (GET …/v1/models lists them).")),
        "openai_temperature": Param("temperature", _temperature(0.7)),
        "openai_top_p": Param("top_p", forms.FloatField(required=False, min_value=0, max_value=1, label="Top p",
                                                        help_text="Default 1.")),
        "openai_max_tokens": Param("max_tokens", forms.IntegerField(
            required=False, min_value=1, max_value=32768, label="Most tokens per answer", help_text="Default 512.")),
        "openai_timeout": Param("timeout", forms.FloatField(
            required=False, min_value=1, max_value=3600, label="Timeout (seconds)",
            help_text="How long to wait for the server between pieces of an answer. Default 60.")),
        "openai_system_prompt": Param("system_prompt", _system_prompt()),
    },
    Backend.SEARCH: {
        "search_base": Param("base", forms.CharField(
            required=False, label="Base endpoint",
            help_text="The name of a transformers endpoint whose model is searched over.")),
        "search_strategy": Param("strategy", forms.ChoiceField(
            required=False, label="Strategy",
            choices=[("", "best_of_n (default)"), ("best_of_n", "best_of_n: N candidates, the best by the verifiers"),
                     ("majority", "majority: the most common final answer of N"),
                     ("beam", "beam: step-level beam search scored by the verifiers"),
                     ("single", "single: one sample"), ("retrieve", "retrieve: answer from retrieved documents"),
                     ("retrieve+best_of_n", "retrieve+best_of_n")])),
        "search_n": Param("n", forms.IntegerField(required=False, min_value=1, max_value=64, label="Candidates (N)",
                                                  help_text="Samples drawn in one batch. Default 4.")),
        "search_verifiers": Param("verifiers", forms.CharField(
            required=False, label="Verifiers",
            help_text="Comma-separated: loglik, consensus, checker, reward, grounding, outcome "
                      "(weights go in the JSON below, e.g. {\"checker\": 2, \"loglik\": 1}).")),
        "search_corpus": Param("corpus", forms.CharField(
            required=False, label="Corpus", help_text="retrieve: a folder of .txt, .md or .html files on the "
                                                      "worker host, or \"pydoc\" for the demo corpus.")),
        "search_calculator": Param("calculator", forms.NullBooleanField(
            required=False, label="Calculator", widget=forms.Select(choices=[("", "default (off)"), ("true", "on"),
                                                                            ("false", "off")]),
            help_text="Correct stated arithmetic while sampling.")),
        "search_temperature": Param("temperature", _temperature(0.8)),
        "search_max_new_tokens": Param("max_new_tokens", forms.IntegerField(
            required=False, min_value=1, max_value=8192, label="Most tokens per answer", help_text="Default 256.")),
    },
}
FIELD_KEYS = {name: param.key for params in PARAMS.values() for name, param in params.items()}


class _EndpointForm(forms.ModelForm):
    api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                              help_text="Leave empty to keep the stored key. It is never shown again.")
    arenas = forms.ModelMultipleChoiceField(
        queryset=Arena.objects.all(), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple,
        initial=default_arenas,
        help_text="The arenas whose anonymous battles this model is drawn for; none keeps it to named modes.")

    class Meta:
        model = ModelEndpoint
        fields = "__all__"
        labels = {"params": "Other parameters (JSON)"}
        help_texts = {"params": "Advanced: any parameter as JSON, e.g. {\"extra_body\": {…}, \"seed\": 1}. "
                                "A field above wins over the same key here."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "params" in self.fields:
            self.fields["params"].required = False
        if self.instance.pk and not self.is_bound:
            self._fill_from(self.instance.backend, dict(self.instance.params or {}))

    def _fill_from(self, backend: str, params: dict) -> None:
        """Each parameter with a field goes to its field; the rest stays in the JSON."""
        for name, param in PARAMS.get(backend, {}).items():
            value = params.get(param.key)
            if name == "search_verifiers" and isinstance(value, dict) and set(value.values()) <= {1}:
                value = list(value)  # equal weights read as a list; others stay in the JSON
            if name == "search_verifiers" and isinstance(value, list):
                value = ", ".join(value)
            if value is None or isinstance(value, dict | list):
                continue
            self.initial[name] = value
            params.pop(param.key)
        self.initial["params"] = params

    def clean_arenas(self):
        return [arena.slug for arena in self.cleaned_data.get("arenas") or []]

    def clean_api_key(self):
        value = self.cleaned_data.get("api_key")
        return value if value else (self.instance.api_key if self.instance.pk else "")

    def clean(self):
        data = super().clean()
        backend, params = data.get("backend"), data.get("params")
        if params in (None, ""):
            params = {}
        if not isinstance(params, dict):
            self.add_error("params", "The other parameters must be a JSON object, like {\"seed\": 1}.")
            return data
        if not backend or self.errors:
            return data
        fields = PARAMS.get(backend, {})
        merged = {**params, **{p.key: _param_value(name, data.get(name)) for name, p in fields.items()
                               if data.get(name) not in (None, "")}}
        try:
            data["params"] = validate_params(backend, merged)
        except ValueError as exc:
            self.add_error(_field_for(str(exc), fields), str(exc))
        return data


# Every kind's fields are declared on the form (the metaclass collects them); the admin shows the
# chosen kind's, and only the chosen kind's are read.
EndpointForm = type("EndpointForm", (_EndpointForm,), {
    "__module__": __name__, **{name: param.field for params in PARAMS.values() for name, param in params.items()}})


def _param_value(name: str, value):
    if name == "search_verifiers":
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _field_for(message: str, fields: dict[str, Param]) -> str:
    """The field a backend's sentence is about: it starts with the parameter's name."""
    for name, param in fields.items():
        if message.startswith(f"{param.key} ") or message.startswith(f"{param.key}:"):
            return name
    return "params"
