"""Resident memory of a process serving a local model, against the size of the model's own weights.

Each row runs in a fresh process that does what a worker does for a local endpoint: import the
engine, load the model (``load_model``, from safetensors), start its shared BatchEngine (which
builds the CPU decoding step and its packed weights) and serve one batch of 8 chats (8 tokens each). It prints
the process's resident memory then (VmRSS) and at its peak (VmHWM), and the same process's
resident memory before loading (the interpreter, torch and transformers) for scale.

Models: the demo's SmolLM2-135M, and a randomly initialised Llama of about 1.1B parameters
(SmolLM2's tokenizer; written once to a temporary folder, ~4.4 GB in float32). Each is measured
with the decoder's one packed copy of the weights (``ARENA_PACKED_ROWS=8``, the default) and
without any (``ARENA_PACKED_ROWS=0``).

    .venv/bin/python bench/worker_memory.py                     # both models, both settings
    .venv/bin/python bench/worker_memory.py --models smollm2 --packed-rows 8
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
model = engine.loaded.model
weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
prompts = [render_prompt(engine.loaded.tokenizer, [{'role': 'user', 'content': f'Tell me about topic {i}.'}])
           for i in range(8)]
engine.generate(prompts, SamplingParams(max_new_tokens=8, temperature=0))
print(json.dumps({'before': before, 'weights': weights,
                  'packed_rows': getattr(engine.decoder, 'packed_rows', None), **status()}), flush=True)
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


def measure(source: str, packed_rows: int, root: Path = ROOT) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, source], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "ARENA_PACKED_ROWS": str(packed_rows), "HF_HUB_OFFLINE": "1"})
    if result.returncode:
        sys.exit(f"measuring {source} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="smollm2,llama-1b", help="smollm2 and/or llama-1b")
    parser.add_argument("--packed-rows", default="8,0", help="ARENA_PACKED_ROWS settings to measure")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose engine is measured")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="arena-memory-") as scratch:
        for name in args.models.split(","):
            source = "smollm2" if name == "smollm2" else str(build_large(Path(scratch) / "llama-1b"))
            for packed in (int(p) for p in args.packed_rows.split(",")):
                print(f"[memory] {name}, ARENA_PACKED_ROWS={packed} ...", flush=True)
                rows.append((name, packed, measure(source, packed, args.root)))
    print("\n| model | packed rows | weights | RSS before loading | RSS serving | peak RSS | RSS / weights | "
          "(RSS - before) / weights |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, m in rows:
        packed = {0: "none", None: "?"}.get(m["packed_rows"], m["packed_rows"])
        print(f"| {name} | {packed} | {m['weights']:.0f} MB | {m['before']:.0f} MB | "
              f"{m['VmRSS']:.0f} MB | {m['VmHWM']:.0f} MB | {m['VmRSS'] / m['weights']:.2f}x | "
              f"{(m['VmRSS'] - m['before']) / m['weights']:.2f}x |")
    print(f"\n{os.cpu_count()} CPUs; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
