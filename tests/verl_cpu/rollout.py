"""A rollout backed by Hugging Face `generate`, for verl's server-mode rollout machinery.

verl 0.9.1 only runs server-mode rollouts (vLLM, SGLang, TRT-LLM); `hf_rollout.py` and
`naive/` are wired to neither registry. This module supplies the three pieces a backend needs:

- `HFReplica`, registered with `RolloutReplicaRegistry.register("hf", ...)` (the trainer side,
  `workers/rollout/replica.py`): it launches one `HFRolloutServer` actor per replica.
- `HFRolloutServer`, a Ray actor with verl's server interface: `async generate(prompt_ids,
  sampling_params, request_id, ...) -> TokenOutput` (what `LLMServerClient.generate` calls) and
  no-op wake/sleep/kv-cache/abort/profile calls (what `RolloutReplica` forwards).
- `HFServerAdapter`, the in-worker `BaseRollout` (`workers/rollout/base.py`) that
  `ActorRolloutRefWorker.update_weights` drives with the `naive` checkpoint engine: it sends the
  FSDP actor's full tensors to the server, so every step samples from the current policy.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Optional

import ray
import torch

from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput
from verl_cpu.runner import SYNC_LOG_ENV


def server_name(replica_rank: int) -> str:
    return f"verl_cpu_hf_rollout_server_{replica_rank}"


class HFRolloutServer:
    """One replica's generator: the actor model in fp32 on the host, sampled with `generate`."""

    def __init__(self, model_path: str, prompt_length: int, response_length: int, seed: int = 0):
        from transformers import AutoModelForCausalLM, GenerationConfig

        torch.manual_seed(seed)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32, attn_implementation="sdpa").eval()
        config = GenerationConfig.from_pretrained(model_path)
        eos = config.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        self.pad_id = config.pad_token_id if config.pad_token_id is not None else (self.eos_ids[0] if self.eos_ids else 0)
        self.prompt_length = prompt_length
        self.response_length = response_length
        self.global_steps: Optional[int] = None
        self.weight_updates = 0
        self.requests = 0
        self._lock = asyncio.Lock()

    async def generate(self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str, image_data=None, video_data=None, **_: Any) -> TokenOutput:
        if image_data is not None or video_data is not None:
            raise NotImplementedError("the HF-generate rollout is text-only")
        params = dict(sampling_params)
        max_tokens = params.pop("max_tokens", None) or params.pop("max_new_tokens", None)
        if max_tokens is None:
            max_tokens = min(self.response_length, self.prompt_length + self.response_length - len(prompt_ids))
        async with self._lock:  # one generate at a time: the host has few cores
            ids = await asyncio.to_thread(self._generate, list(prompt_ids), max(1, int(max_tokens)), params)
            self.requests += 1
        finished = bool(ids) and ids[-1] in self.eos_ids
        return TokenOutput(token_ids=ids, log_probs=None, stop_reason="completed" if finished else "length", extra_fields={"global_steps": self.global_steps})

    @torch.no_grad()
    def _generate(self, prompt_ids: list[int], max_tokens: int, params: dict[str, Any]) -> list[int]:
        temperature = float(params.get("temperature", 1.0) or 0.0)
        top_k = int(params.get("top_k", -1) or -1)
        kwargs = dict(do_sample=temperature > 0, max_new_tokens=max_tokens, eos_token_id=self.eos_ids or None, pad_token_id=self.pad_id)
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 1.0)), top_k=top_k if top_k > 0 else None)
        if params.get("repetition_penalty", 1.0) != 1.0:
            kwargs["repetition_penalty"] = float(params["repetition_penalty"])
        input_ids = torch.tensor([prompt_ids])
        out = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)[0, len(prompt_ids) :].tolist()
        for position, token in enumerate(out):  # generate pads after EOS; keep through the first EOS
            if token in self.eos_ids:
                return out[: position + 1]
        return out

    def update_weights(self, state: dict[str, torch.Tensor], global_steps: Optional[int] = None) -> int:
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        tied = {"lm_head.weight"} if self.model.config.tie_word_embeddings else set()
        if unexpected or set(missing) - tied:
            raise RuntimeError(f"weights from the actor do not fit the rollout model: missing {missing}, unexpected {unexpected}")
        self.global_steps = global_steps
        self.weight_updates += 1
        if os.environ.get(SYNC_LOG_ENV):  # for tests: a line per weight sync
            import json

            with open(os.environ[SYNC_LOG_ENV], "a") as log:
                log.write(json.dumps({"global_steps": global_steps, "tensors": len(state), "requests_before": self.requests}) + "\n")
        return len(state)

    def stats(self) -> dict[str, Any]:
        return {"weight_updates": self.weight_updates, "requests": self.requests, "global_steps": self.global_steps}

    # What RolloutReplica forwards to its servers. Nothing to free on the host.
    async def wake_up(self):
        pass

    async def sleep(self):
        pass

    async def clear_kv_cache(self):
        pass

    async def release_kv_cache(self):
        pass

    async def resume_kv_cache(self):
        pass

    async def abort_all_requests(self, reject_request: bool = False):
        return {"aborted_count": 0, "request_ids": []}

    async def resume_generation(self):
        pass

    async def start_profile(self, **kwargs):
        pass

    async def stop_profile(self):
        pass


class HFReplica(RolloutReplica):
    """A replica with one `HFRolloutServer` (hybrid mode: beside the FSDP workers)."""

    async def launch_servers(self):
        server = (
            ray.remote(HFRolloutServer)
            .options(name=server_name(self.replica_rank), num_cpus=0, max_concurrency=self.max_concurrency)
            .remote(
                model_path=getattr(self.model_config, "local_path", None) or self.model_config.path,  # DictConfig here
                prompt_length=self.config.prompt_length,
                response_length=self.config.response_length,
                seed=self.config.seed + self.replica_rank,
            )
        )
        await server.stats.remote()  # wait until the model is loaded
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"hf-rollout-{self.replica_rank}"  # the router's key; no HTTP


class HFServerAdapter(BaseRollout):
    """In the actor worker: pushes the trained weights to this replica's server."""

    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1):
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", 0))
        world = self.config.tensor_model_parallel_size * self.config.data_parallel_size * self.config.pipeline_model_parallel_size
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self.is_leader = rank % world == 0
        self.server = None

    async def resume(self, tags: list[str]):
        pass

    async def release(self):
        pass

    async def update_weights(self, weights, wire_format: str = "named_tensors", **kwargs):
        if wire_format != "named_tensors":
            raise NotImplementedError(f"wire format {wire_format}")
        state = {}
        for name, tensor in weights:  # full tensors (FSDP2 all-gathers); every rank must iterate
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            state[name] = tensor.detach().to("cpu", torch.float32).clone()
        if not self.is_leader:
            return
        if self.server is None:
            self.server = ray.get_actor(server_name(self.replica_rank))
        await self.server.update_weights.remote(state, kwargs.get("global_steps"))
