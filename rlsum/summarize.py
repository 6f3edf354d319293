"""Offline summarization of a catalogue with a trained actor.

    python -m rlsum.summarize run=runs/gspo-p2-w0.3 data=data/catalogue [out=DIR] [generator=auto|hf|vllm|ray] [split=test]
    python -m rlsum.summarize actor=models/actor data=DIR out=DIR prompt=plain

Hydra config `rlsum/conf/summarize.yaml`. With `run=`, the actor is the run's last checkpoint and
the prompt length, response length and sampling follow the run's training config (its
validation sampling: greedy unless set); `out` defaults to `RUN/summaries`. The chat
template and instruction are the ones used in training (`rlsum.actor.fit_prompt`);
`prompt=plain` asks a bare "summarize" instead (the evaluation baseline).

Items are assigned to shards of `shard_size` in item-id order. Each finished shard is
written to `OUT/shards/` by an atomic rename, so a killed run (even SIGKILL) rerun with the
same command skips finished shards and redoes at most the one in flight; at the end the
shards are merged (each item exactly once, checked) into `OUT/summaries.jsonl` and
`OUT/summaries.parquet`, and per-shard token-length statistics into `OUT/stats.json`.
Generators: `hf` (transformers generate; CPU or one GPU), `vllm` (offline vLLM on the GPUs
of this machine), `ray` (Ray Data LLM with vLLM replicas on every GPU of a Ray cluster;
give it large shards, e.g. shard_size=8192); `auto` picks vllm when CUDA and vLLM are
importable, else hf.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from jobdata import load_dataset, load_items, required_data_file, write_jsonl, write_parquet
from ranker.cli import run_cli
from rewards.length import decode_summary
from rlsum.actor import end_of_turn_id, fit_prompt
from rlsum.hf_generate import GumbelMaxSampling, generate
from rlsum.prompts import PROMPTS
from rlsum.run_dir import latest_checkpoint

log = logging.getLogger("rlsum.summarize")


@dataclass(frozen=True)
class Generation:
    max_prompt_tokens: int
    max_new_tokens: int
    temperature: float  # 0: greedy
    top_p: float
    seed: int


@dataclass
class Summary:
    item_id: str
    summary: str
    summary_tokens: int  # in the actor's tokenizer, end-of-turn excluded
    cut: bool  # the response hit max_new_tokens without ending


def last_checkpoint_actor(run_dir: Path) -> Path:
    last = latest_checkpoint(run_dir)
    if last is None:
        raise FileNotFoundError(f"{run_dir}: no finished checkpoint (checkpoints/step-N) to summarize with")
    return last / "actor"


def generation_from_run(run_cfg: DictConfig, seed: int) -> Generation:
    """The prompt/response lengths the run trained with and its validation sampling."""
    val = run_cfg.actor_rollout_ref.rollout.val_kwargs
    return Generation(int(run_cfg.data.max_prompt_length), int(run_cfg.data.max_response_length), float(val.temperature), float(val.top_p), seed)


class HFGenerator:
    """transformers `generate` in batches of left-padded prompts (`rlsum.hf_generate`):
    greedy at temperature 0, else sampled as the embedded engine samples."""

    def __init__(self, actor_path: Path, batch_size: int, device: str | None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(actor_path)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModelForCausalLM.from_pretrained(actor_path).to(device).eval()
        self.batch_size = batch_size

    def generate(self, prompts: list[list[int]], generation: Generation) -> list[list[int]]:
        sampling = GumbelMaxSampling(generation.temperature, generation.top_p) if generation.temperature > 0 else None
        outputs = []
        for start in range(0, len(prompts), self.batch_size):
            outputs += generate(self.model, self.tokenizer, prompts[start : start + self.batch_size], generation.max_new_tokens, sampling)[2].tolist()
        return outputs


class VLLMGenerator:
    """vLLM's offline `LLM.generate` on token-id prompts (GPU clusters)."""

    def __init__(self, actor_path: Path, batch_size: int, device: str | None):
        from transformers import AutoTokenizer
        from vllm import LLM

        self.tokenizer = AutoTokenizer.from_pretrained(actor_path)
        self.llm = LLM(model=str(actor_path), tensor_parallel_size=max(torch.cuda.device_count(), 1))

    def generate(self, prompts: list[list[int]], generation: Generation) -> list[list[int]]:
        from vllm import SamplingParams

        params = SamplingParams(temperature=generation.temperature, top_p=generation.top_p, max_tokens=generation.max_new_tokens, seed=generation.seed, stop_token_ids=[end_of_turn_id(self.tokenizer)])
        results = self.llm.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)
        return [list(result.outputs[0].token_ids) for result in results]


class RayDataGenerator:
    """Ray Data LLM's vLLM processor: each shard is one Ray dataset generated by vLLM
    replicas on every GPU of the Ray cluster (multi-node catalogues; use large shards)."""

    def __init__(self, actor_path: Path, batch_size: int, device: str | None):
        import ray
        from ray.data.llm import build_processor, vLLMEngineProcessorConfig
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(actor_path)
        ray.init(ignore_reinit_error=True)
        replicas = int(ray.cluster_resources().get("GPU", 0))
        if replicas == 0:
            raise ValueError("generator=ray needs GPUs in the Ray cluster (vLLM replicas run on them); this cluster has none (generator=hf runs anywhere)")
        config = vLLMEngineProcessorConfig(model_source=str(actor_path), batch_size=batch_size, concurrency=replicas, chat_template_stage=False, tokenize_stage=False, detokenize_stage=False)
        # Prompts arrive as token ids (the training chat template applied here), and only
        # the generated ids and the row number come back.
        self.processor = build_processor(config, preprocess=lambda row: row, postprocess=lambda row: {"row": row["row"], "generated_tokens": list(row["generated_tokens"])})

    def generate(self, prompts: list[list[int]], generation: Generation) -> list[list[int]]:
        import ray

        sampling = {"temperature": generation.temperature, "top_p": generation.top_p, "max_tokens": generation.max_new_tokens, "seed": generation.seed, "stop_token_ids": [end_of_turn_id(self.tokenizer)]}
        dataset = ray.data.from_items([{"row": i, "tokenized_prompt": ids, "sampling_params": sampling} for i, ids in enumerate(prompts)])
        rows = sorted(self.processor(dataset).take_all(), key=lambda row: row["row"])
        return [list(row["generated_tokens"]) for row in rows]


GENERATORS = {"hf": HFGenerator, "vllm": VLLMGenerator, "ray": RayDataGenerator}


def choose_generator(requested: str) -> str:
    """generator=auto|hf|vllm|ray: auto is vllm where it can run, else hf."""
    if requested != "auto" and requested not in GENERATORS:
        raise ValueError(f"unknown generator {requested!r}; choose auto, {', '.join(GENERATORS)}")
    from rlsum.verl_engine import probe_resources

    vllm_lacks = probe_resources(None).missing_for_vllm()
    if requested == "auto":
        return "hf" if vllm_lacks else "vllm"
    if requested == "vllm" and vllm_lacks:
        raise ValueError(f"generator=vllm needs {' and '.join(vllm_lacks)}, which this machine lacks (generator=hf runs anywhere)")
    return requested


def summary_row(item_id: str, tokenizer, generated: list[int], max_new_tokens: int) -> Summary:
    """The item's summary: the text before the end-of-turn token (stripped), its token
    count, and whether it was cut, by the rule training uses (`rewards.length.decode_summary`)."""
    text, l_sum, cut = decode_summary(tokenizer, generated, max_new_tokens)
    return Summary(item_id, text.strip(), l_sum, cut)


def shard_path(out: Path, index: int) -> Path:
    return out / "shards" / f"shard-{index:05d}.jsonl"


def stats_path(out: Path, index: int) -> Path:
    return out / "shards" / f"shard-{index:05d}.stats.json"


def summarize(items: dict[str, str], generator, out: Path, generation: Generation, instruction: str, shard_size: int) -> None:
    """Summarize `items` (id -> text) into OUT's shards, resuming past finished ones."""
    ids = sorted(items)
    shards = [ids[i : i + shard_size] for i in range(0, len(ids), shard_size)]
    done = [k for k in range(len(shards)) if shard_path(out, k).exists()]
    if done:
        log.info("resuming: %d of %d shards already written in %s", len(done), len(shards), out / "shards")
    shard_path(out, 0).parent.mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(ids), initial=sum(len(shards[k]) for k in done), unit="item", desc="summarizing") as bar:
        for index, shard in enumerate(shards):
            if index in done:
                continue
            torch.manual_seed(generation.seed + index)  # a redone shard samples the same
            fitted = [fit_prompt(generator.tokenizer, items[i], generation.max_prompt_tokens, instruction) for i in shard]
            prompts, cut_prompt = [f.ids for f in fitted], [f.tokens_cut for f in fitted]
            rows = [summary_row(i, generator.tokenizer, generated, generation.max_new_tokens) for i, generated in zip(shard, generator.generate(list(prompts), generation))]
            lengths = np.array([r.summary_tokens for r in rows])
            stats = {"shard": index, "items": len(rows), "mean_tokens": float(lengths.mean()), "p50_tokens": float(np.median(lengths)), "max_tokens": int(lengths.max()),
                     "cut": int(sum(r.cut for r in rows)), "empty": int(sum(not r.summary for r in rows)), "prompts_cut": int(sum(c > 0 for c in cut_prompt))}
            # Statistics first: a shard file that exists always has its statistics.
            write_jsonl(stats_path(out, index), [stats])
            write_jsonl(shard_path(out, index), rows)
            log.info("shard %d: %d items, summary tokens mean %.1f, p50 %.0f, max %d, %d cut at the length limit", index, len(rows), lengths.mean(), np.median(lengths), lengths.max(), stats["cut"])
            bar.update(len(rows))


def merge_shards(out: Path, item_ids: list[str], shard_size: int) -> tuple[list[dict], list[dict]]:
    """Every shard's rows in order, each expected item exactly once (else an error), and
    the shards' statistics."""
    ids = sorted(item_ids)
    rows, stats = [], []
    for index in range(0, (len(ids) + shard_size - 1) // shard_size):
        stats.append(json.loads(stats_path(out, index).read_text()))
        path = shard_path(out, index)
        with open(path, encoding="utf-8") as f:
            shard_rows = [json.loads(line) for line in f]
        expected = ids[index * shard_size : (index + 1) * shard_size]
        if [r["item_id"] for r in shard_rows] != expected:
            raise ValueError(f"{path}: holds other items than its {len(expected)} planned ones (was the item set or shard_size changed? delete {out / 'shards'} to start over)")
        rows += shard_rows
    return rows, stats


def check_settings(prompt: str, batch_size: int, shard_size: int) -> None:
    if prompt not in PROMPTS:
        raise ValueError(f"prompt must be one of {', '.join(PROMPTS)}, got {prompt!r}")
    if shard_size < 1 or batch_size < 1:
        raise ValueError(f"shard_size and batch_size must be at least 1, got {shard_size} and {batch_size}")


def default_generation(**changes) -> Generation:
    """The generation settings of rlsum/conf/summarize.yaml, with `changes`."""
    from rlsum.train import CONF_DIR

    return Generation(**{**OmegaConf.to_container(OmegaConf.load(CONF_DIR / "summarize.yaml").generation), **changes})


def summarize_items(items: dict[str, str], actor: Path, out: Path, generation: Generation, prompt: str = "trained", generator: str = "auto", batch_size: int = 16, device: str | None = None, shard_size: int = 64, provenance: dict | None = None) -> Path:
    """Summaries of `items` (id -> text) by the actor at `actor`, with the `prompt`'s
    instruction, into OUT: summaries.jsonl / .parquet and stats.json (`provenance`, e.g.
    the data directory and split, goes into stats.json). Resumes past finished shards."""
    check_settings(prompt, batch_size, shard_size)
    generator_name = choose_generator(generator)
    log.info("summarizing %d items with %s (%s engine) into %s; %s", len(items), actor, generator_name, out, asdict(generation))
    summarize(items, GENERATORS[generator_name](actor, batch_size, device), out, generation, PROMPTS[prompt], shard_size)
    rows, stats = merge_shards(out, list(items), shard_size)
    write_jsonl(out / "summaries.jsonl", rows)
    write_parquet(out / "summaries.parquet", rows)
    meta = {"actor": str(actor), **(provenance or {}), "prompt": prompt, "engine": generator_name, "generation": asdict(generation), "items": len(rows), "shards": stats}
    write_jsonl(out / "stats.json", [meta])
    return out


def compose_config(overrides: list[str]) -> DictConfig:
    from rlsum.train import compose_config as compose

    return compose(overrides, config_name="summarize")


def main(argv: list[str] | None = None) -> Path:
    cfg = compose_config(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    check_settings(cfg.prompt, cfg.batch_size, cfg.shard_size)
    if cfg.run:
        run_dir = Path(cfg.run)
        if not (run_dir / "config.yaml").exists():
            raise FileNotFoundError(f"{run_dir}: not a training run directory (no config.yaml)")
        actor = Path(cfg.actor) if cfg.actor else last_checkpoint_actor(run_dir)
        generation = generation_from_run(OmegaConf.load(run_dir / "config.yaml"), cfg.generation.seed)
        out = Path(cfg.out) if cfg.out else run_dir / "summaries"
    else:
        if not cfg.actor or not cfg.out:
            raise ValueError("give run=RUN_DIR, or actor=MODEL_DIR together with out=DIR")
        actor, out = Path(cfg.actor), Path(cfg.out)
        generation = Generation(**OmegaConf.to_container(cfg.generation))
    data = Path(cfg.data)
    if cfg.split:
        dataset = load_dataset(data)
        items = {r.item_id: dataset.items[r.item_id].text for r in dataset.only_split(cfg.split).qrels}
    else:
        items = {item_id: item.text for item_id, item in load_items(required_data_file(data, "items")).items()}
    summarize_items(items, actor, out, generation, cfg.prompt, cfg.generator, cfg.batch_size, cfg.device, cfg.shard_size, provenance={"data": str(data), "split": cfg.split})
    print(f"summaries={out / 'summaries.jsonl'}")
    return out


if __name__ == "__main__":
    run_cli(main)
