"""engine=verl on a cluster: engine choice from the Ray cluster's resources, the p_raw
precompute on one of its GPUs, paths every node sees, rollout replicas, the actor's
attention, Dr. GRPO's horizon, W&B and the verl config handed to main_ppo."""

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from rlsum.paths import absolute_paths, is_hub_id, local_model
from rlsum.train import check_config, compose_config
from rlsum.verl_engine import Resources, check_shared_storage, check_verl_config, choose_engine, connect, disconnect, on_a_gpu, probe_resources, rollout_replicas, verl_config, worker_env

pytestmark = pytest.mark.e2e  # whole commands or training loops; the fast loop (README, Tests) skips it


# The local clusters' nodes are processes of this machine, with its packages.
HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.fixture(scope="module")
def gpu_cluster(tmp_path_factory):
    """A real local Ray cluster of two nodes declaring one (logical) GPU each: what a `ray
    job` entrypoint sees, whether or not its own machine (the driver here) has CUDA."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1})
    cluster.add_node(num_cpus=1, num_gpus=1)
    cluster.wait_for_nodes()
    yield cluster.address
    disconnect()
    cluster.shutdown()


def test_engine_choice_reads_the_cluster_not_the_driver(gpu_cluster, tmp_path, monkeypatch):
    resources = probe_resources(gpu_cluster)
    # The cluster's 2 declared GPUs, whatever the driver has; vLLM as its nodes import it.
    assert resources.gpus == 2 and resources.vllm == HAS_VLLM and "Ray cluster" in resources.where
    if HAS_VLLM:
        assert choose_engine("verl", resources) == ("verl", f"requested; 2 GPUs on {resources.where}")
    else:  # GPUs found on the cluster: only vLLM is missing
        with pytest.raises(ValueError) as error:
            choose_engine("verl", resources)
        assert "vLLM" in str(error.value) and "CUDA GPUs" not in str(error.value)
    assert choose_engine("auto", resources)[0] == ("verl" if HAS_VLLM else "embedded")
    # With vLLM importable on the GPU nodes, auto and verl both pick verl.
    assert choose_engine("auto", Resources(2, True, resources.where)) == ("verl", f"auto: 2 GPUs and vLLM on {resources.where}")
    # No cluster: this machine's CUDA GPUs and vLLM decide, and engine=verl says what lacks.
    local = probe_resources(None)
    cuda_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    lacking = [what for what, present in (("CUDA GPUs", cuda_gpus > 0), ("vLLM", HAS_VLLM)) if not present]
    assert local.gpus == cuda_gpus and choose_engine("auto", local)[0] == ("embedded" if lacking else "verl")
    if lacking:
        with pytest.raises(ValueError, match=lacking[0]):
            choose_engine("verl", local)


def test_the_precompute_runs_as_a_task_holding_a_gpu(gpu_cluster, synthetic_data_dir, tiny_model_dirs, tmp_path):
    from jobdata.rl_rows import load_rows
    from rlsum.data.prepare import prepare

    import ray

    ranker = tiny_model_dirs["qwen3"]
    summary = on_a_gpu(gpu_cluster, prepare, synthetic_data_dir, ranker, ranker, tmp_path / "prepared", max_items=3, max_val_items=2)
    # cuda where a task holding one of the cluster's GPUs sees CUDA (a GPU node), else cpu
    # (the GPU is only declared, as on a CPU machine).
    task_sees_cuda = ray.get(ray.remote(num_gpus=1)(torch.cuda.is_available).remote())
    assert summary["arguments"]["device"] == ("cuda" if task_sees_cuda else "cpu")
    assert len(load_rows(tmp_path / "prepared" / "train.parquet")) == 3


def test_paths_every_node_sees(gpu_cluster, tmp_path, monkeypatch):
    connect(gpu_cluster)
    shared = tmp_path / "run"
    shared.mkdir()
    check_shared_storage({"ranker.path": tmp_path}, {"run.dir": shared})
    # A relative path resolves elsewhere in every Ray worker: caught before any work.
    monkeypatch.chdir(tmp_path)
    Path("runs").mkdir()
    with pytest.raises(ValueError, match="run.dir=runs is not the same storage on node"):
        check_shared_storage({}, {"run.dir": Path("runs")})


def test_every_path_handed_on_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "ranker").mkdir(parents=True)
    cfg = absolute_paths(compose_config(["+algo=gspo", "ranker.path=models/ranker", "actor.path=Qwen/Qwen3-0.6B", "jobs.data_dir=data"]))
    assert cfg.run.dir == str(tmp_path / "runs" / "gspo-p2-w0.3") and cfg.cache_dir == str(tmp_path / "runs" / "cache")
    assert cfg.ranker.path == str(tmp_path / "models" / "ranker") and cfg.jobs.data_dir == str(tmp_path / "data")
    assert cfg.actor.path == "Qwen/Qwen3-0.6B" and is_hub_id(cfg.actor.path)
    verl = verl_config(cfg, Path(cfg.run.dir), Path(cfg.run.dir) / "prepared", Path(cfg.ranker.path), tmp_path / "actor")
    for key in ("data.train_files", "data.val_files", "trainer.default_local_dir", "actor_rollout_ref.model.path"):
        assert Path(OmegaConf.select(verl, key)).is_absolute(), key


def test_a_hugging_face_id_resolves_to_a_local_snapshot(tmp_path):
    """huggingface_hub reads HF_HOME and HF_HUB_OFFLINE at import: each check in a fresh process."""
    import subprocess
    import sys

    def resolve():
        code = "from rlsum.paths import local_model; print(local_model('Qwen/Qwen3-0.6B', 'actor.path'))"
        env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)

    unreachable = resolve()
    assert unreachable.returncode != 0
    assert "ValueError: actor.path=Qwen/Qwen3-0.6B: not a local directory, and the Hugging Face Hub could not provide it" in unreachable.stderr
    # The cache layout huggingface_hub writes: refs/main names the snapshot.
    repo = tmp_path / "hf" / "hub" / "models--Qwen--Qwen3-0.6B"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "snapshots" / "0123abcd").mkdir(parents=True)
    (repo / "snapshots" / "0123abcd" / "config.json").write_text("{}")
    found = resolve()
    assert found.returncode == 0, found.stderr
    path = Path(found.stdout.strip())
    assert path.is_absolute() and (path / "config.json").exists()
    assert local_model(str(tmp_path), "actor.path") == tmp_path


def test_one_gpu_runs_get_a_rollout_server():
    for preset in ("tiny", "qwen3_0.6b"):
        cfg = compose_config(["+algo=gspo", f"models={preset}", "trainer.n_gpus_per_node=1"])
        assert rollout_replicas(cfg) == 1, preset
        check_verl_config(cfg)
    # verl's own default (tensor parallel 2) on one GPU: no replica, which verl does not catch.
    cfg = compose_config(["+algo=gspo", "trainer.n_gpus_per_node=1", "actor_rollout_ref.rollout.tensor_model_parallel_size=2"])
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    validate_config(config=verl_config(cfg, Path("/r"), Path("/r/p"), Path("/m"), Path("/a")), use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    assert rollout_replicas(cfg) == 0
    with pytest.raises(ValueError, match="no rollout server: .* 1 GPUs"):
        check_verl_config(cfg)
    with pytest.raises(ValueError, match="has 1"):
        check_verl_config(compose_config(["+algo=gspo", "models=qwen3_0.6b"]), Resources(1, True, "the Ray cluster at x"))


def test_the_actor_loads_without_flash_attention(tiny_model_dirs):
    """verl loads the FSDP actor with override_config.attn_implementation (default
    flash_attention_2, which the gpu extra lacks). Our configs choose sdpa, which also reads
    verl's padding-free batches right: sequences packed into one row, positions restarting."""
    from transformers import AutoModelForCausalLM
    from verl.workers.config import HFModelConfig

    for preset in ("tiny", "qwen3_0.6b"):
        assert compose_config(["+algo=gspo", f"models={preset}"]).actor_rollout_ref.model.override_config.attn_implementation == "sdpa"
    model_cfg = HFModelConfig(path=str(tiny_model_dirs["qwen3"]), override_config={"attn_implementation": "sdpa"})
    assert model_cfg.hf_config._attn_implementation == "sdpa"
    with pytest.raises(ValueError, match="flash-attn is not installed"):
        check_verl_config(compose_config(["+algo=gspo", "~actor_rollout_ref.model.override_config.attn_implementation"]))

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dirs["qwen3"], attn_implementation="sdpa").eval()
    torch.manual_seed(0)
    a, b = torch.randint(0, 1000, (1, 7)), torch.randint(0, 1000, (1, 5))
    with torch.no_grad():
        alone = torch.cat([model(input_ids=a, use_cache=False).logits, model(input_ids=b, use_cache=False).logits], dim=1)
        packed = model(input_ids=torch.cat([a, b], dim=1), position_ids=torch.cat([torch.arange(7), torch.arange(5)])[None], use_cache=False).logits  # as verl calls it
    torch.testing.assert_close(packed, alone, rtol=1e-4, atol=1e-4)


def test_dr_grpo_divides_by_a_constant_horizon():
    from verl.trainer.ppo.core_algos import agg_loss
    from verl.utils.config import omega_conf_to_dataclass

    cfg = compose_config(["+algo=drgrpo"])
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert actor.loss_scale_factor == cfg.data.max_response_length == 48
    # Two micro-batches whose longest responses differ: the same per-token weight.
    for width in (5, 12):
        loss = agg_loss(torch.ones(2, width), torch.ones(2, width), "seq-mean-token-sum-norm", loss_scale_factor=actor.loss_scale_factor)
        assert loss.item() == pytest.approx(width / 48)


def test_wandb_mode_reaches_every_worker(tmp_path, monkeypatch):
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    cfg = compose_config(["+algo=gspo"])
    env = worker_env(cfg, tmp_path)
    assert env["WANDB_MODE"] == "offline" and env["WANDB_DIR"] == str(tmp_path)
    monkeypatch.setenv("WANDB_API_KEY", "k")
    assert worker_env(cfg, tmp_path)["WANDB_MODE"] == "online"
    assert worker_env(compose_config(["+algo=gspo", "wandb.mode=disabled"]), tmp_path)["WANDB_MODE"] == "disabled"
    verl = verl_config(cfg, tmp_path, tmp_path / "p", tmp_path / "r", tmp_path / "a")
    assert verl.ray_kwargs.ray_init.runtime_env.env_vars.WANDB_MODE == "online"
    # Inside a `ray job`, Ray refuses a variable the job's env sets too: leave it to the job.
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": {"env_vars": {"WANDB_MODE": "offline"}}}))
    assert "WANDB_MODE" not in worker_env(cfg, tmp_path)
    with pytest.raises(ValueError, match="wandb.mode=online, but the Ray job's runtime env sets WANDB_MODE=offline"):
        worker_env(compose_config(["+algo=gspo", "wandb.mode=online"]), tmp_path)


def test_verl_checkpoints_carry_an_hf_model_on_our_schedule(tmp_path):
    cfg = verl_config(compose_config(["+algo=gspo", "run.save_every=7"]), tmp_path, tmp_path / "p", tmp_path / "r", tmp_path / "a")
    assert cfg.trainer.save_freq == 7 and "hf_model" in cfg.actor_rollout_ref.actor.checkpoint.save_contents
    assert cfg.trainer.default_local_dir == str(tmp_path / "verl_checkpoints")
    check_config(cfg)


def test_a_verl_run_writes_the_run_directory_contract(tmp_path, tiny_model_dirs):
    """verl's log calls, with the reward workers' lines in between, become metrics.jsonl and
    validation.jsonl rows; verl's HF checkpoint copies become checkpoints/step-N/actor."""
    import verl.utils.tracking as tracking
    from transformers import AutoModelForCausalLM

    from rlsum.run_summary import read_run_log
    from rlsum.verl_run_dir import REWARD_LOG, tracking_with_run_dir

    def reward_line(split, reward, summary, tokens, cut=False):
        return json.dumps({"split": split, "reward": reward, "kl": -reward - 0.01, "penalty": -0.01, "length_ratio": 0.1, "summary": summary, "summary_tokens": tokens, "cut": cut}) + "\n"

    (tmp_path / REWARD_LOG).mkdir()
    worker_a, worker_b = tmp_path / REWARD_LOG / "a.jsonl", tmp_path / REWARD_LOG / "b.jsonl"
    logger = tracking_with_run_dir(tracking.Tracking, tmp_path)(project_name="p", experiment_name="e", default_backend=[])
    worker_a.write_text(reward_line("val", -0.5, "x", 3))  # validation before training
    logger.log({"val-core/rlsum-jobs/reward/mean@1": -0.5}, step=0)
    worker_a.open("a").write(reward_line("train", -0.2, "a", 4) + reward_line("train", -0.4, "b", 6, cut=True))
    worker_b.write_text(reward_line("train", -0.6, "a", 8) + '{"split": "tr')  # a line still being written
    logger.log({"actor/pg_loss": 0.25, "actor/grad_norm": 1.5, "timing_s/step": 2.0, "critic/score/mean": -0.4}, step=1)
    worker_b.open("a").write('ain", "reward": -0.1, "kl": 0.09, "penalty": -0.01, "length_ratio": 0.1, "summary": "c", "summary_tokens": 2, "cut": false}\n')
    # verl saved step 2 with its HF copy (save_contents has hf_model).
    hf = tmp_path / "verl_checkpoints" / "global_step_2" / "actor" / "huggingface"
    AutoModelForCausalLM.from_pretrained(tiny_model_dirs["qwen3"]).save_pretrained(hf)
    logger.log({"actor/pg_loss": 0.1}, step=2)

    metrics = read_run_log(tmp_path / "metrics.jsonl")
    assert [row["step"] for row in metrics] == [1, 2]
    assert metrics[0]["reward_mean"] == pytest.approx(-0.4) and metrics[0]["response_length"] == pytest.approx(6)
    assert metrics[0]["cut_fraction"] == pytest.approx(1 / 3) and metrics[0]["distinct_fraction"] == pytest.approx(2 / 3)
    assert metrics[0]["length_ratio"] == pytest.approx(0.1) and metrics[0]["compression"] == pytest.approx(0.9)
    assert metrics[0]["pg_loss"] == 0.25 and metrics[0]["grad_norm"] == 1.5 and metrics[0]["step_time_s"] == 2.0
    assert metrics[1]["reward_mean"] == pytest.approx(-0.1)
    validation = read_run_log(tmp_path / "validation.jsonl")
    assert [row["step"] for row in validation] == [0] and validation[0]["reward_mean"] == -0.5
    exported = tmp_path / "checkpoints" / "step-2" / "actor"
    assert AutoModelForCausalLM.from_pretrained(exported).config.num_hidden_layers == 2
    # A rerun resumed from step 1 redoes step 2: its old rows go, lines of the interrupted
    # attempt are history, and the new ones come once.
    worker_a.open("a").write(reward_line("train", -0.3, "d", 5))
    logger = tracking_with_run_dir(tracking.Tracking, tmp_path)(project_name="p", experiment_name="e", default_backend=[])
    worker_a.open("a").write(reward_line("train", -0.05, "e", 5))
    logger.log({}, step=2)
    assert [(row["step"], row["reward_mean"]) for row in read_run_log(tmp_path / "metrics.jsonl")] == [(1, pytest.approx(-0.4)), (2, -0.05)]


def test_the_ranker_serves_from_a_gpu_of_the_cluster(gpu_cluster, tiny_model_dirs):
    """ranker.serve=true: a real /v1/score server in a detached actor holding one GPU of the
    cluster; the reward's HTTP scorer through it equals the in-process ranker."""
    import numpy as np
    import ray

    from ranker.scoring import load_ranker
    from rewards.scorer import HttpScorer, RankerScorer, load_http_scorer
    from rlsum import ranker_service

    ranker = str(tiny_model_dirs["qwen3"])
    url = ranker_service.start(gpu_cluster, ranker, "float32", timeout_s=120)
    try:
        pairs = [("remote data engineer", "Senior Data Engineer, remote"), ("chef jobs", "Senior Data Engineer, remote"), ("chef jobs", "Line cook in Lyon")]
        scorer = load_http_scorer(url, ranker)
        assert isinstance(scorer, HttpScorer)
        np.testing.assert_allclose(scorer.score(pairs), RankerScorer(load_ranker(ranker)).score(pairs), atol=1e-5)
        actor = ray.get_actor(ranker_service.ACTOR_NAME, namespace=ranker_service.NAMESPACE)
        assert ray.available_resources().get("GPU", 0) == 1  # it holds one of the two
    finally:
        ranker_service.stop(gpu_cluster)
    with pytest.raises(ValueError):
        ray.get_actor(ranker_service.ACTOR_NAME, namespace=ranker_service.NAMESPACE)
    del actor
    # It needs a GPU beyond the trainer's.
    cfg = compose_config(["+algo=gspo", "models=qwen3_0.6b", "ranker.serve=true"])
    check_verl_config(cfg, Resources(9, True, "the Ray cluster at x"))
    with pytest.raises(ValueError, match=r"= 8 GPUs plus one for the ranker's server \(ranker.serve\), but the Ray cluster at x has 8"):
        check_verl_config(cfg, Resources(8, True, "the Ray cluster at x"))
