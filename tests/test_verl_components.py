"""verl's own components on our prepared data and reward, on CPU: the prompts verl's
dataset and agent loop build from the prepared parquet, and the reward verl's
`RewardLoopWorker` computes as a Ray actor, against what the embedded engine does with
the same rows and the same generated tokens.

- Prompts: verl 0.9.1 neither drops nor rejects an over-long prompt
  (`data.filter_overlong_prompts: False`), and its agent loop keeps only the *last*
  `rollout.prompt_length` tokens (`AgentLoopBase._cap_text_prompt_length`). `prepare`
  therefore fits each prompt itself (`rlsum.actor.fit_prompt`).
- Reward: verl's reward loop workers load our `SummaryRewardManager` by importlib from
  the `reward:` section `verl_reward_section` writes; the length rule on the token ids
  (`rewards.length.decode_summary`) is the embedded engine's.
"""

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from ranker.tokenizer import load_qwen3_tokenizer
from rewards import p2
from rewards.length import end_of_turn_id, summary_length
from rewards.summary import RewardConfig
from rlsum.actor import build_tiny_actor
from jobdata.rl_rows import load_rows
from rlsum.data.prepare import prepare
from rlsum.prompts import SUMMARIZE_INSTRUCTION

REPO = Path(__file__).resolve().parents[1]
PROMPT = 128  # the tiny preset's data.max_prompt_length: every synthetic posting is longer
RESPONSE = 8
RANKER_MAX_LENGTH = 96
REWARD = RewardConfig("p2", {"w": 0.3}, cut_penalty=-0.25)


@pytest.fixture(scope="module")
def actor_dir(tmp_path_factory):
    return build_tiny_actor(tmp_path_factory.mktemp("actor"), hidden_size=32, num_layers=2, num_heads=2)


@pytest.fixture(scope="module")
def prepared(synthetic_data_dir, tiny_model_dirs, actor_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    summary = prepare(synthetic_data_dir, tiny_model_dirs["qwen3"], actor_dir, out, queries_per_item=2, max_items=8, max_val_items=4, ranker_max_length=RANKER_MAX_LENGTH, batch_size=16, seed=0, device="cpu", max_prompt_tokens=PROMPT)
    return out, summary


@pytest.fixture(scope="module")
def verl_cfg(prepared, tiny_model_dirs, actor_dir, tmp_path_factory):
    """verl's composed config (rlsum.train.compose_config) with our data, actor and the
    `reward:` section from `verl_reward_section`."""
    from rewards.verl_reward import verl_reward_section
    from rlsum.train import compose_config

    out, _ = prepared
    cfg = compose_config(["+algo=gspo", f"data.max_prompt_length={PROMPT}", f"data.max_response_length={RESPONSE}"])
    with open_dict(cfg):
        cfg.data.train_files = str(out / "train.parquet")
        cfg.data.val_files = str(out / "val.parquet")
        cfg.data.apply_chat_template_kwargs = {"enable_thinking": False}
        cfg.data.cache_dir = str(tmp_path_factory.mktemp("verl-cache"))
        cfg.data.filter_overlong_prompts_workers = None  # verl's length filter in this process (a pool costs seconds)
        cfg.actor_rollout_ref.model.path = str(actor_dir)
        cfg.reward.merge_with(verl_reward_section(REWARD, tiny_model_dirs["qwen3"], RESPONSE, ranker_max_length=RANKER_MAX_LENGTH, ranker_device="cpu", ranker_dtype="float32"))
    return cfg


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """HF datasets (under verl's RLHFDataset) caching in the test's own directory, with a
    random fingerprint per transform: hashing verl's length filter dill-pickles the
    tokenizer it closes over, about 10 s a dataset on this machine, and changes nothing
    the test looks at."""
    datasets = pytest.importorskip("datasets")
    import datasets.fingerprint

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.fingerprint, "update_fingerprint", lambda *_: datasets.fingerprint.generate_random_fingerprint())


class FakeLLMServer:
    """Stands in for verl's LLM server client (vLLM): records each prompt it is sent and
    answers with the response chosen for that prompt."""

    def __init__(self, responses: dict[tuple, list[int]] | None = None, default: list[int] | None = None):
        self.responses, self.default, self.prompts = responses or {}, default, []

    async def generate(self, request_id, prompt_ids, sampling_params, **_):
        from verl.workers.rollout.replica import TokenOutput

        self.prompts.append(list(prompt_ids))
        return TokenOutput(token_ids=list(self.responses.get(tuple(prompt_ids), self.default)), log_probs=None)


def verl_batch(cfg, parquet, tokenizer, rows=None):
    """Prompts as verl's trainer hands them to the agent loop: RLHFDataset items, collated,
    as one DataProto (the trainer's `_get_gen_batch` keeps every non-tensor key)."""
    from verl import DataProto
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    dataset = RLHFDataset(str(parquet), tokenizer, cfg.data)
    rows = range(len(dataset)) if rows is None else rows
    return dataset, DataProto.from_single_dict(collate_fn([dataset[i] for i in rows]))


def sent_prompts(output) -> list[list[int]]:
    """Each row's prompt ids, unpadded, from the agent loop's output batch."""
    width = output.batch["prompts"].shape[1]
    return [ids[mask.bool()].tolist() for ids, mask in zip(output.batch["prompts"], output.batch["attention_mask"][:, :width])]


@pytest.mark.slow  # over 5 s; the fast loop skips it
def test_verl_builds_every_prepared_prompt_whole_and_as_the_embedded_engine_does(prepared, verl_cfg, hf_cache):
    """verl's defaults (no length filter), its dataset and its agent loop on every
    prepared row: the prompt vLLM gets is the whole prepared prompt (nothing over
    rollout.prompt_length, so nothing left-truncated), instruction first, and the same ids
    the embedded engine feeds the actor."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
    from verl.utils.tokenizer.continuous_token_wiring import create_continuous_token_builder

    from rlsum.embedded import prompts_and_tasks

    out, summary = prepared
    cfg = verl_cfg
    assert not cfg.data.filter_overlong_prompts  # verl's default: an over-long prompt would reach the agent loop
    assert cfg.data.return_raw_chat and cfg.actor_rollout_ref.rollout.prompt_length == PROMPT
    worker = AgentLoopWorker(cfg, FakeLLMServer(default=[end_of_turn_id(load_qwen3_tokenizer())]))
    tokenizer = worker.tokenizer
    # The builder verl's agent loop makes (AgentLoopBase.__init__), before its cap to the last prompt_length tokens.
    builder = create_continuous_token_builder(tokenizer, hf_model_type=worker.hf_model_type, chat_template_kwargs=cfg.data.apply_chat_template_kwargs)
    for split, file in (("train", "train.parquet"), ("val", "val.parquet")):
        rows = load_rows(out / file)
        assert summary[split]["prompts_cut"] == len(rows)  # every synthetic posting is over the budget: the check bites
        assert all(row["extra_info"]["l_orig"] == len(tokenizer(row["extra_info"]["item_text"], add_special_tokens=False)["input_ids"]) > PROMPT for row in rows)
        dataset, batch = verl_batch(cfg, out / file, tokenizer)
        assert len(dataset) == len(rows)
        embedded, _ = prompts_and_tasks(rows, tokenizer, PROMPT)
        worker.llm_client.prompts.clear()
        output = asyncio.run(worker.generate_sequences(batch))
        for row, raw_prompt, ids, embedded_ids in zip(rows, batch.non_tensor_batch["raw_prompt"], sent_prompts(output), embedded, strict=True):
            assert list(raw_prompt) == row["prompt"]
            whole = builder.build_initial_tokens(list(raw_prompt))
            assert len(whole) <= PROMPT  # nothing for verl to cut
            assert ids == whole == embedded_ids  # vLLM's prompt is the embedded actor's prompt
            text = tokenizer.decode(ids)
            assert text.startswith("<|im_start|>user\n" + SUMMARIZE_INSTRUCTION) and text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        assert sorted(worker.llm_client.prompts) == sorted(embedded)


@pytest.mark.slow  # over 5 s; the fast loop skips it
def test_verls_own_length_filter_keeps_every_prepared_row(prepared, verl_cfg, hf_cache):
    """With data.filter_overlong_prompts on, verl counts each prompt with its own chat
    templating and drops those over data.max_prompt_length: none of ours."""
    from verl.utils.dataset.rl_dataset import RLHFDataset

    out, summary = prepared
    cfg = verl_cfg.copy()
    with open_dict(cfg):
        cfg.data.filter_overlong_prompts = True
    assert summary["train"]["max_prompt_tokens"] <= PROMPT == cfg.data.max_prompt_length
    assert len(RLHFDataset(str(out / "train.parquet"), load_qwen3_tokenizer(), cfg.data)) == summary["train"]["items"]


def test_verl_reward_section_loads_our_manager_and_function_through_verl(verl_cfg):
    from verl.trainer.ppo.reward import get_custom_reward_fn, resolve_reward_manager_cls
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    import rewards.verl_reward as verl_reward
    from rlsum.train import compose_config

    reward = verl_cfg.reward
    assert reward.reward_manager.source == "importlib" and reward.reward_manager.name == "SummaryRewardManager"
    assert reward.reward_manager.module.path == reward.custom_reward_function.path == "pkg://rewards.verl_reward"
    assert reward.custom_reward_function.name == "compute_score"
    assert {"ranker_device": "cpu", "ranker_dtype": "float32", "max_response_tokens": RESPONSE, "penalty": "p2", "cut_penalty": -0.25}.items() <= dict(reward.custom_reward_function.reward_kwargs).items()
    assert reward.num_workers == compose_config(["+algo=gspo"]).reward.num_workers  # keys the section does not set keep their values
    assert resolve_reward_manager_cls(verl_cfg) is verl_reward.SummaryRewardManager
    assert get_custom_reward_fn(verl_cfg).args[0] is verl_reward.compute_score  # verl's partial over our function
    validate_config(config=verl_cfg, use_reference_policy=need_reference_policy(verl_cfg), use_critic=need_critic(verl_cfg))
    with pytest.raises(ValueError, match="ranker_device must be one of cpu, cuda, auto"):
        verl_reward.verl_reward_section(REWARD, "r", RESPONSE, ranker_device="gpu")
    with pytest.raises(ValueError, match="ranker_dtype must be one of float32, bfloat16"):
        verl_reward.verl_reward_section(REWARD, "r", RESPONSE, ranker_dtype="fp16")


def test_ranker_device_and_dtype_reach_the_scorer(tiny_model_dirs):
    import rewards.verl_reward as verl_reward

    extra_info = {"queries": ["data engineer seattle"], "l_orig": 400}
    kwargs = dict(ranker_path=str(tiny_model_dirs["qwen3"]), max_response_tokens=RESPONSE, penalty_params={"w": 0.3}, ranker_max_length=RANKER_MAX_LENGTH, l_sum=3, cut=False)
    result = asyncio.run(verl_reward.compute_score("rlsum-jobs", "Data engineer, Seattle", [0.6], extra_info, ranker_device="cpu", ranker_dtype="bfloat16", **kwargs))
    model = verl_reward._BATCHERS[(str(tiny_model_dirs["qwen3"]), RANKER_MAX_LENGTH, None, "cpu", "bfloat16")].scorer.ranker.model
    assert model.dtype == torch.bfloat16 and model.device.type == "cpu" and np.isfinite(result["score"])
    if torch.cuda.is_available():  # a GPU machine: the worker's ranker goes there
        result = asyncio.run(verl_reward.compute_score("rlsum-jobs", "Data engineer", [0.6], extra_info, ranker_device="cuda", **kwargs))
        model = verl_reward._BATCHERS[(str(tiny_model_dirs["qwen3"]), RANKER_MAX_LENGTH, None, "cuda", "float32")].scorer.ranker.model
        assert model.device.type == "cuda" and np.isfinite(result["score"])
    else:
        with pytest.raises(ValueError, match="'cuda' asked for, but CUDA is not available"):
            asyncio.run(verl_reward.compute_score("rlsum-jobs", "Data engineer", [0.6], extra_info, ranker_device="cuda", **kwargs))


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A local Ray cluster whose jobs run from a working directory that is not the
    checkout, as `ray job submit --working-dir` does: workers import our packages
    from the installed distribution, not from their current directory."""
    ray = pytest.importorskip("ray")
    from rewards.verl_reward import REWARD_LOG_ENV

    working_dir = tmp_path_factory.mktemp("ray-working-dir")
    (working_dir / "dummy.txt").write_text("not the checkout\n")
    reward_log = tmp_path_factory.mktemp("reward-log")
    env = {k: os.environ.pop(k) for k in ("RAY_ADDRESS",) if k in os.environ}
    runtime_env = {"working_dir": str(working_dir), "env_vars": {REWARD_LOG_ENV: str(reward_log)}}  # as the verl engine's job env
    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env=runtime_env, logging_level="WARNING")
    try:
        yield ray, reward_log
    finally:
        ray.shutdown()
        os.environ.update(env)


@pytest.mark.e2e  # a local Ray cluster
def test_ray_reward_loop_worker_gives_the_embedded_reward(ray_cluster, prepared, verl_cfg, tiny_model_dirs, hf_cache):
    """verl's RewardLoopWorker as a Ray actor, fed by verl's agent loop (a fake LLM server
    answering with chosen token ids), against the embedded engine's rollout
    post-processing and scoring of the same tokens: one response that ends its turn and
    one cut at the response limit."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    from rewards.scorer import load_scorer
    from rewards.summary import score_summaries
    from rewards.verl_reward import REWARD_LOG_ENV
    from rlsum.embedded import prompts_and_tasks
    from rlsum.rollout import sample_rollout
    from rlsum.verl_run_dir import REWARD_LOG_ENV as RUN_DIR_REWARD_LOG_ENV
    from rlsum.verl_run_dir import RewardLogReader

    ray, reward_log = ray_cluster

    @ray.remote
    def where_workers_import_from():
        import rewards

        return rewards.__file__, os.getcwd()

    module_file, cwd = ray.get(where_workers_import_from.remote())
    assert Path(module_file).resolve().parent == REPO / "rewards" and Path(cwd).resolve() != REPO

    out, _ = prepared
    tokenizer = load_qwen3_tokenizer()
    eot = end_of_turn_id(tokenizer)
    rows = load_rows(out / "train.parquet")[:2]
    prompts, tasks = prompts_and_tasks(rows, tokenizer, PROMPT)
    ended = tokenizer("Data engineer, Seattle, hybrid.", add_special_tokens=False)["input_ids"][: RESPONSE - 1] + [eot]
    # Cut at the limit, spelled letter by letter as a sampled policy may: its decoded text
    # re-tokenizes to fewer tokens, so a length counted from the text would call it neither
    # cut nor RESPONSE tokens long.
    cut = tokenizer.convert_tokens_to_ids(list("Seniorda"))
    assert eot not in cut and len(cut) == RESPONSE
    assert len(tokenizer(tokenizer.decode(cut), add_special_tokens=False)["input_ids"]) < RESPONSE
    responses = [ended, cut]

    reader = RewardLogReader(reward_log)  # reads the lines written from now on
    # verl: the agent loop sends each prompt to the (fake) server and each result to a reward worker.
    handle = ray.remote(RewardLoopWorker).remote(verl_cfg, None)
    server = FakeLLMServer({tuple(p): r for p, r in zip(prompts, responses)})
    worker = AgentLoopWorker(verl_cfg, server, reward_loop_worker_handles=[handle])
    _, batch = verl_batch(verl_cfg, out / "train.parquet", tokenizer, rows=[0, 1])
    output = asyncio.run(worker.generate_sequences(batch))
    verl_rewards = output.batch["rm_scores"].sum(-1).tolist()  # the reward sits on the last response token

    # embedded: HF generate's output (here the same tokens) through sample_rollout, then score_summaries.
    class SameTokens:
        device = torch.device("cpu")

        def generate(self, input_ids, attention_mask, max_new_tokens, pad_token_id, **_):
            width = max(len(r) for r in responses)
            return torch.cat([input_ids, torch.tensor([r + [pad_token_id] * (width - len(r)) for r in responses])], dim=1)

    rollout = sample_rollout(SameTokens(), tokenizer, prompts, n=1, max_new_tokens=RESPONSE, temperature=1.0, top_p=1.0, do_sample=False)
    assert (rollout.summary_tokens, rollout.cut) == ([len(ended) - 1, RESPONSE], [False, True])
    assert [summary_length(r, eot, RESPONSE) for r in responses] == list(zip(rollout.summary_tokens, rollout.cut))
    scorer = load_scorer(str(tiny_model_dirs["qwen3"]), RANKER_MAX_LENGTH, device="cpu")
    parts = score_summaries(scorer, rollout.summaries, tasks, rollout.summary_tokens, rollout.cut, REWARD)

    np.testing.assert_allclose(verl_rewards, [p.reward for p in parts], atol=1e-5, rtol=0)
    assert output.non_tensor_batch["summary_tokens"].tolist() == rollout.summary_tokens
    assert output.non_tensor_batch["cut"].tolist() == [0.0, 1.0]
    np.testing.assert_allclose(output.non_tensor_batch["kl"].astype(float), [p.kl for p in parts], atol=1e-5)
    for part, task, l_sum, was_cut in zip(parts, tasks, rollout.summary_tokens, rollout.cut):  # the cut penalty on the cut row only
        assert part.penalty == pytest.approx(p2(task.l_orig, l_sum, 0.3) + (REWARD.cut_penalty if was_cut else 0.0))

    # The reward worker's log lines, which rlsum.verl_run_dir turns into metrics.jsonl rows.
    assert REWARD_LOG_ENV == RUN_DIR_REWARD_LOG_ENV
    records = sorted(reader.new_records(), key=lambda r: r["cut"])
    assert [(r["split"], r["summary"], r["summary_tokens"], r["cut"]) for r in records] == [("train", s, n, c) for s, n, c in zip(rollout.summaries, rollout.summary_tokens, rollout.cut)]
    np.testing.assert_allclose([r["reward"] for r in records], [p.reward for p in parts], atol=1e-5)
