"""Benchmark: supervised steps of the tiny actor with glibc's default allocator against
`ranker.cli.keep_freed_memory`, each in its own process (mallopt is process-wide).

    python -m rlsum.bench_allocator [--steps 30] [--batch-size 8]

Both processes run the same seeded batches of the warm start's shape (128 prompt tokens,
~24 response tokens, the 152K Qwen3 vocabulary) through `rlsum.actor`'s loss, backward and
AdamW, and report seconds per step, kernel (system) CPU seconds and the speed-up ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time

SETTINGS = ("default", "keep_freed_memory")


def time_steps(model_dir: str, steps: int, batch_size: int, warmup: int = 3) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from rlsum.actor import response_cross_entropy, sft_batch

    torch.manual_seed(0)
    rng = random.Random(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    vocab = model.config.vocab_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        examples = [([rng.randrange(vocab) for _ in range(128)], [rng.randrange(vocab) for _ in range(rng.randint(12, 36))]) for _ in range(batch_size)]
        response_cross_entropy(model, sft_batch(examples, pad_id=0)).backward()
        optimizer.step()
        optimizer.zero_grad()

    for _ in range(warmup):
        step()
    system_before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return {"seconds_per_step": (time.perf_counter() - started) / steps, "system_cpu_seconds": resource.getrusage(resource.RUSAGE_SELF).ru_stime - system_before}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--setting", choices=SETTINGS, help=argparse.SUPPRESS)  # a child process
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setting:
        if args.setting == "keep_freed_memory":
            from ranker.cli import keep_freed_memory

            keep_freed_memory()
        print(json.dumps(time_steps(args.model, args.steps, args.batch_size)))
        return {}

    from rlsum.actor import build_tiny_actor

    with tempfile.TemporaryDirectory() as model_dir:
        build_tiny_actor(model_dir)
        results = {}
        for setting in SETTINGS:
            out = subprocess.run([sys.executable, "-m", "rlsum.bench_allocator", "--setting", setting, "--model", model_dir, "--steps", str(args.steps), "--batch-size", str(args.batch_size)], check=True, capture_output=True, text=True).stdout
            results[setting] = json.loads(out.strip().splitlines()[-1])
            print(f"{setting:>18}: {results[setting]['seconds_per_step']:.3f} s/step, {results[setting]['system_cpu_seconds']:.1f} s in the kernel over {args.steps} steps")
    results["speedup"] = results["default"]["seconds_per_step"] / results["keep_freed_memory"]["seconds_per_step"]
    print(f"keep_freed_memory is {results['speedup']:.2f}x faster per step")
    return results


if __name__ == "__main__":
    main()
