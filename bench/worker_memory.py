"""Resident memory of a process serving a local model, against the size of the model's own weights.

Each row runs in a fresh process that does what a worker does for a local endpoint: import the
engine, load the model (``load_model``, from safetensors; on the CPU in float32 its linear layers
are packed for oneDNN, which replaces their dense weights), start its shared BatchEngine and serve
one batch of 8 chats (8 tokens each). It prints the process's resident memory then (VmRSS) and at
its peak (VmHWM), and the same process's resident memory before loading (the interpreter, torch
and transformers), and two ratios: RSS / weights, and (RSS - before) / weights, what loading and
serving the model added.

Models: the demo's SmolLM2-135M, and a randomly initialised Llama of about 1.1B parameters
(SmolLM2's tokenizer; written once to a temporary folder, ~4.4 GB in float32). Each is measured
at the default (packed, but a head tied to the input embedding stays dense with it), with
``ARENA_PACKED_WEIGHTS=all`` (that head packed too) and with ``=0`` (dense weights, F.linear).
The target, at most 1.3x the weights, is judged at the default.

Read the two ratios for what they are. For the 135M demo model the runtime before loading is
about as large as the weights themselves (``import torch`` alone is ~220 MB), so RSS / weights
cannot come near 1.3x for it whatever the engine does; (RSS - before) / weights is the one that
says what the engine holds per byte of weights. The demo model ties its head to its input
embedding: with ``all`` the head is packed and the embedding stays dense for the lookup, so 0.21x
of its weights are held twice. The 1.1B model is where the runtime no longer dominates and the first
ratio means something.

    .venv/bin/python bench/worker_memory.py                       # both models, both settings
    .venv/bin/python bench/worker_memory.py --models smollm2 --packed default
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = "default"  # ARENA_PACKED_WEIGHTS left unset: float32 weights on the CPU are packed
TARGET = 1.3  # resident memory at most this many times the weights
LARGE = {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 20, "num_attention_heads": 32,
         "num_key_value_heads": 4, "tie_word_embeddings": False}

CHILD = """
import json, os, sys
def status():
    with open('/proc/self/status') as f:
        fields = dict(line.split(':', 1) for line in f)
    return {k: int(fields[k].split()[0]) / 1024 for k in ('VmRSS', 'VmHWM')}
from workers.engine import SamplingParams, get_engine, render_prompt
before = status()['VmRSS']
engine = get_engine(sys.argv[1], device='cpu', dtype='float32')
from workers.engine.packed_linear import PackedLinear
weights = engine.loaded.weight_bytes / 2**20
packed = sum(1 for m in engine.loaded.model.modules() if isinstance(m, PackedLinear) and m.packed is not None)
prompts = [render_prompt(engine.loaded.tokenizer, [{'role': 'user', 'content': f'Tell me about topic {i}.'}])
           for i in range(8)]
engine.generate(prompts, SamplingParams(max_new_tokens=8, temperature=0))
print(json.dumps({'before': before, 'weights': weights,
                  'packed_layers': packed, **status()}), flush=True)
os._exit(0)  # measured; tearing down the engine's running thread at exit can abort the interpreter
"""


def build_large(folder: Path) -> Path:
    """A randomly initialised ~1.1B-parameter Llama with SmolLM2's tokenizer, in its own process."""
    script = f"""
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from workers.engine import load_model
tokenizer = load_model('smollm2', device='cpu').tokenizer
config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                     eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **{LARGE!r})
torch.manual_seed(0)
model = LlamaForCausalLM(config)
model.save_pretrained({str(folder)!r})
tokenizer.save_pretrained({str(folder)!r})
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)
    return folder


def measure(source: str, setting: str, root: Path = ROOT) -> dict:
    """One fresh worker-like process; ``setting`` is ARENA_PACKED_WEIGHTS, or "default" to leave it unset."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("ARENA_PACKED_WEIGHTS", None)
    if setting != DEFAULT:
        env["ARENA_PACKED_WEIGHTS"] = setting
    result = subprocess.run([sys.executable, "-c", CHILD, source], cwd=root, capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"measuring {source} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def verdict(ratio: float) -> str:
    return "met" if ratio <= TARGET else "**not met**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="smollm2,llama-1b", help="smollm2 and/or llama-1b")
    parser.add_argument("--packed", default=f"{DEFAULT},all,0",
                        help=f"ARENA_PACKED_WEIGHTS settings to measure ({DEFAULT!r}: unset, packed)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose engine is measured")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="arena-memory-") as scratch:
        for name in args.models.split(","):
            source = "smollm2" if name == "smollm2" else str(build_large(Path(scratch) / "llama-1b"))
            for setting in args.packed.split(","):
                print(f"[memory] {name}, ARENA_PACKED_WEIGHTS={setting} ...", flush=True)
                rows.append((name, setting, measure(source, setting, args.root)))
    print(f"\nverdicts against <= {TARGET}x at the default setting only")
    print("\n| model | ARENA_PACKED_WEIGHTS | packed layers | weights | RSS before loading | RSS serving | peak RSS | "
          "RSS / weights | (RSS - before) / weights | <= 1.3x at the default (RSS; RSS - before) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    summary = []
    for name, setting, m in rows:
        packed = m["packed_layers"] or "none"
        whole, engine = m["VmRSS"] / m["weights"], (m["VmRSS"] - m["before"]) / m["weights"]
        judged = f"{verdict(whole)}; {verdict(engine)}" if setting == DEFAULT else "–"
        shown = "unset (packed)" if setting == DEFAULT else setting
        print(f"| {name} | {shown} | {packed} | {m['weights']:,.0f} MB | {m['before']:,.0f} MB | "
              f"{m['VmRSS']:,.0f} MB | {m['VmHWM']:,.0f} MB | {whole:.2f}x | {engine:.2f}x | {judged} |")
        if setting == DEFAULT:
            mode = f"{packed} layers packed" if m["packed_layers"] else "not packed"
            summary.append(f"{name} at its default ({mode}): RSS / weights {whole:.2f}x ({verdict(whole)}), "
                           f"(RSS - before) / weights {engine:.2f}x ({verdict(engine)})")
    print("", *summary, sep="\n")
    print(f"\n{os.cpu_count()} CPUs; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
