"""Launch scripts (launch/): dry runs print the exact command or manifest, overrides reach
`python -m rlsum.train` unchanged, the W&B key reaches the job only through its environment,
and stand-in `ray`, `kubectl`, `srun` and `scontrol` commands see what the real ones would."""

import importlib.util
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "launch"
SCRIPTS = ["lib.sh", "ray_submit.sh", "kuberay.sh", "slurm.sbatch", "ranker_torchrun.sh"]
OVERRIDES = [
    "+algo=gspo",
    "+penalty=p2",
    "penalty.w=0.3",
    "engine=verl",
    "trainer.logger=[console,wandb]",
    "trainer.project_name=rlsum",
    "trainer.experiment_name='gspo p2 (w=0.3)'",
    "data.note=\"it's $HOME * `x`\"",
]
TRAIN = ["python", "-m", "rlsum.train"]
KEY = "test-key-0123456789abcdef"
# Settings the scripts read; the tests start from an environment without any of them.
SETTINGS = ["RAY_ADDRESS", "RAY_JOB_ARGS", "DRY_RUN", "WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT", "WANDB_DIR",
            "HF_HOME", "IMAGE", "WORKERS", "GPUS_PER_WORKER", "WANDB_SECRET", "WANDB_SECRET_KEY",
            "JOB_NAME", "NAMESPACE", "VENV", "GPUS_PER_NODE", "HEAD_IP", "RAY_PORT", "RUN_ROOT",
            "STORAGE_CLAIM", "STORAGE_PATH", "SCORER"]


def run(script, *args, cwd, **env):
    """Run `bash launch/SCRIPT ARGS` from CWD with a clean environment plus ENV."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS and not k.startswith("SLURM_")}
    base["PYTHON"] = sys.executable
    return subprocess.run(["bash", str(LAUNCH / script), *args], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def stand_in(bin_dir: Path, name: str, body: str) -> None:
    """An executable NAME in BIN_DIR running BODY (bash)."""
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def one_line_error(proc, word):
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and word in lines[0], proc.stderr


def split_submit(line):
    """(ray job submit flags as a dict, the entrypoint argv) from a printed command line."""
    argv = shlex.split(line)
    assert argv[:3] == ["ray", "job", "submit"]
    dash = argv.index("--")
    flags, entry = argv[3:dash], argv[dash + 1:]
    opts = {}
    for i, flag in enumerate(flags):
        if flag.startswith("--") and i + 1 < len(flags) and not flags[i + 1].startswith("--"):
            opts[flag] = flags[i + 1]
        elif flag.startswith("--"):
            opts[flag] = True
    return opts, entry


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse(script):
    proc = subprocess.run(["bash", "-n", str(LAUNCH / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- ray_submit.sh

def test_ray_submit_dry_run_without_key(tmp_path):
    proc = run("ray_submit.sh", "--dry-run", *OVERRIDES, cwd=tmp_path, PATH="/usr/bin:/bin")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    opts, entry = split_submit(lines[0])
    assert entry == TRAIN + OVERRIDES
    assert opts["--address"] == "http://RAY_HEAD:8265" and "placeholder" in proc.stderr
    assert opts["--working-dir"] == "."
    # RUN_ROOT: runs on storage every node mounts, not in the job's temporary working dir.
    proc_root = run("ray_submit.sh", "--dry-run", *OVERRIDES, cwd=tmp_path, RUN_ROOT="/shared/rlsum")
    assert split_submit(proc_root.stdout.strip())[1] == TRAIN + ["run.root=/shared/rlsum"] + OVERRIDES
    runtime_env = json.loads(opts["--runtime-env-json"])
    assert runtime_env["env_vars"] == {"WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    assert {"/runs", "/data", "/.venv", "/.git"} <= set(runtime_env["excludes"])


def test_ray_submit_dry_run_with_key(tmp_path):
    proc = run("ray_submit.sh", *OVERRIDES, cwd=tmp_path, DRY_RUN="1", RAY_ADDRESS="http://head:8265",
               WANDB_API_KEY=KEY, WANDB_PROJECT="rlsum", WANDB_DIR="/shared/wandb", HF_HOME='/models/"hf" cache',
               RAY_JOB_ARGS="--no-wait")
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    opts, entry = split_submit(proc.stdout.strip())
    assert entry == TRAIN + OVERRIDES
    assert opts["--address"] == "http://head:8265" and opts["--no-wait"] is True
    env_vars = json.loads(opts["--runtime-env-json"])["env_vars"]
    assert env_vars == {"WANDB_API_KEY": "***", "WANDB_MODE": "online", "WANDB_PROJECT": "rlsum",
                        "WANDB_DIR": "/shared/wandb", "HF_HOME": '/models/"hf" cache', "PYTHONUNBUFFERED": "1"}
    # An explicit WANDB_MODE wins over the key's default.
    proc = run("ray_submit.sh", "--dry-run", cwd=tmp_path, WANDB_API_KEY=KEY, WANDB_MODE="disabled")
    assert json.loads(split_submit(proc.stdout)[0]["--runtime-env-json"])["env_vars"]["WANDB_MODE"] == "disabled"


def test_ray_submit_passes_the_key_to_ray_only_as_an_argument(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in(bin_dir, "ray", f'exec {shlex.quote(sys.executable)} -c '
                             '"import json, os, sys; print(json.dumps([os.getcwd(), *sys.argv[1:]]))" "$@"\n')
    proc = run("ray_submit.sh", *OVERRIDES, cwd=tmp_path, RAY_ADDRESS="http://head:8265", WANDB_API_KEY=KEY,
               PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert proc.returncode == 0, proc.stderr
    cwd, *argv = json.loads(proc.stdout)
    assert Path(cwd) == ROOT  # the working dir uploaded is the repository
    assert argv[argv.index("--") + 1:] == TRAIN + OVERRIDES
    env_vars = json.loads(argv[argv.index("--runtime-env-json") + 1])["env_vars"]
    assert env_vars["WANDB_API_KEY"] == KEY and env_vars["WANDB_MODE"] == "online"
    assert KEY not in proc.stderr  # the echoed command masks it
    for path in [*LAUNCH.iterdir(), *tmp_path.rglob("*")]:
        assert not path.is_file() or KEY not in path.read_text(errors="replace"), path


def test_ray_submit_without_address_fails_in_one_line(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in(bin_dir, "ray", f"touch {tmp_path}/ray-was-called\n")
    proc = run("ray_submit.sh", *OVERRIDES, cwd=tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}")
    one_line_error(proc, "RAY_ADDRESS")
    assert not (tmp_path / "ray-was-called").exists()


# ---------------------------------------------------------------- kuberay.sh / render.py

def load_render():
    spec = importlib.util.spec_from_file_location("launch_render", LAUNCH / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def containers(manifest):
    cluster = manifest["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    worker = cluster["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    return head, worker


def test_kuberay_dry_run_manifest(tmp_path):
    proc = run("kuberay.sh", "--dry-run", *OVERRIDES, cwd=tmp_path, IMAGE="registry.example/rlsum:gpu",
               WORKERS="2", GPUS_PER_WORKER="4", WANDB_SECRET="team-wandb", WANDB_PROJECT="rlsum")
    assert proc.returncode == 0, proc.stderr
    manifest = yaml.safe_load(proc.stdout)
    assert manifest["apiVersion"] == "ray.io/v1" and manifest["kind"] == "RayJob"
    spec = manifest["spec"]
    assert shlex.split(spec["entrypoint"]) == TRAIN + ["run.root=/mnt/rlsum/runs"] + OVERRIDES + ["trainer.nnodes=2", "trainer.n_gpus_per_node=4"]
    assert spec["shutdownAfterJobFinishes"] is True and isinstance(spec["ttlSecondsAfterFinished"], int)
    group = spec["rayClusterSpec"]["workerGroupSpecs"][0]
    assert group["replicas"] == group["minReplicas"] == group["maxReplicas"] == 2
    head, worker = containers(manifest)
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 4
    for container in (head, worker):
        assert container["image"] == "registry.example/rlsum:gpu"
        env = {e["name"]: e for e in container["env"]}
        assert env["WANDB_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "team-wandb", "key": "api-key"}
        assert env["WANDB_MODE"]["value"] == "online" and env["WANDB_PROJECT"]["value"] == "rlsum"
        assert env["PYTHONUNBUFFERED"]["value"] == "1"
        assert env["HF_HOME"]["value"] == "/mnt/rlsum/hf"
        assert {"name": "storage", "mountPath": "/mnt/rlsum"} in container["volumeMounts"]
    for group in (spec["rayClusterSpec"]["headGroupSpec"], group):
        volumes = {v["name"]: v for v in group["template"]["spec"]["volumes"]}
        assert volumes["storage"]["persistentVolumeClaim"] == {"claimName": "rlsum-storage"}


def test_kuberay_storage_is_a_persistent_claim(tmp_path):
    proc = run("kuberay.sh", "--dry-run", "run.root=/elsewhere", cwd=tmp_path, STORAGE_CLAIM="team-runs", STORAGE_PATH="/data/rl/")
    manifest = yaml.safe_load(proc.stdout)
    # A run.root of the user's comes later on the command line, so it wins.
    assert shlex.split(manifest["spec"]["entrypoint"])[3:5] == ["run.root=/data/rl/runs", "run.root=/elsewhere"]
    head, worker = containers(manifest)
    assert {"name": "storage", "mountPath": "/data/rl"} in worker["volumeMounts"]
    volumes = {v["name"]: v for v in manifest["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["volumes"]}
    assert volumes["storage"]["persistentVolumeClaim"]["claimName"] == "team-runs"
    claim = yaml.safe_load((LAUNCH / "storage.yaml").read_text())
    assert claim["kind"] == "PersistentVolumeClaim" and claim["metadata"]["name"] == "rlsum-storage"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    one_line_error(run("kuberay.sh", "--dry-run", cwd=tmp_path, IMAGE="img", STORAGE_PATH="relative"), "STORAGE_PATH")


def test_kuberay_scorer_pod_serves_the_ranker(tmp_path):
    manifest = yaml.safe_load(run("kuberay.sh", "--dry-run", "+algo=gspo", cwd=tmp_path, IMAGE="img").stdout)
    groups = {g["groupName"]: g for g in manifest["spec"]["rayClusterSpec"]["workerGroupSpecs"]}
    assert groups["scorer"]["replicas"] == 0 and "ranker.serve=true" not in manifest["spec"]["entrypoint"]
    manifest = yaml.safe_load(run("kuberay.sh", "--dry-run", "+algo=gspo", cwd=tmp_path, IMAGE="img", SCORER="1").stdout)
    assert shlex.split(manifest["spec"]["entrypoint"])[-1] == "ranker.serve=true"
    scorer = {g["groupName"]: g for g in manifest["spec"]["rayClusterSpec"]["workerGroupSpecs"]}["scorer"]
    assert scorer["replicas"] == scorer["minReplicas"] == 1
    assert json.loads(json.loads(scorer["rayStartParams"]["resources"])) == {"rlsum_scorer": 1}
    assert scorer["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    one_line_error(run("kuberay.sh", "--dry-run", cwd=tmp_path, IMAGE="img", SCORER="2"), "SCORER")


def test_kuberay_defaults_and_no_secret(tmp_path):
    proc = run("kuberay.sh", cwd=tmp_path, DRY_RUN="1")
    assert proc.returncode == 0, proc.stderr
    assert "IMAGE is not set" in proc.stderr
    manifest = yaml.safe_load(proc.stdout)
    assert shlex.split(manifest["spec"]["entrypoint"]) == TRAIN + ["run.root=/mnt/rlsum/runs", "trainer.nnodes=1", "trainer.n_gpus_per_node=8"]
    head, worker = containers(manifest)
    assert "SET" in worker["image"] and worker["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert {e["name"]: e for e in worker["env"]}["WANDB_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "wandb"
    # An empty WANDB_SECRET: no key reference, W&B offline.
    manifest = yaml.safe_load(run("kuberay.sh", "--dry-run", cwd=tmp_path, WANDB_SECRET="").stdout)
    env = {e["name"]: e for e in containers(manifest)[1]["env"]}
    assert "WANDB_API_KEY" not in env and env["WANDB_MODE"]["value"] == "offline"


def test_kuberay_applies_with_kubectl_and_needs_an_image(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in(bin_dir, "kubectl", f'echo "$@" > {tmp_path}/args; cat > {tmp_path}/applied.yaml\n')
    path = f"{bin_dir}:{os.environ['PATH']}"
    one_line_error(run("kuberay.sh", *OVERRIDES, cwd=tmp_path, PATH=path), "IMAGE")
    assert not (tmp_path / "args").exists()
    one_line_error(run("kuberay.sh", cwd=tmp_path, PATH=path, IMAGE="img", WORKERS="0"), "WORKERS")
    proc = run("kuberay.sh", *OVERRIDES, cwd=tmp_path, PATH=path, IMAGE="img", NAMESPACE="ml")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "args").read_text().split() == ["apply", "--namespace", "ml", "-f", "-"]
    manifest = yaml.safe_load((tmp_path / "applied.yaml").read_text())
    assert shlex.split(manifest["spec"]["entrypoint"])[4:-2] == OVERRIDES


def test_render_keeps_any_text_exact():
    render = load_render()
    odd = ["note=line\u2028sep\x85nel \U0001F600 tab\there", "q='a \"b\" \\c'", "k=#not-a-comment: x"]
    manifest = yaml.safe_load(render.render(odd, image="img", wandb_project="p: q # r", wandb_dir="/w"))
    assert shlex.split(manifest["spec"]["entrypoint"])[4:-2] == odd
    env = {e["name"]: e for e in containers(manifest)[1]["env"]}
    assert env["WANDB_PROJECT"]["value"] == "p: q # r" and env["WANDB_DIR"]["value"] == "/w"
    for bad in ({"workers": "two"}, {"gpus_per_worker": 0}, {"job_name": "Bad_Name"}):
        with pytest.raises(ValueError):
            render.render([], **bad)


# ---------------------------------------------------------------- slurm.sbatch

def test_slurm_dry_run_prints_the_commands(tmp_path):
    proc = run("slurm.sbatch", *OVERRIDES, cwd=tmp_path, DRY_RUN="1", SLURM_JOB_NUM_NODES="3",
               GPUS_PER_NODE="4", WANDB_API_KEY=KEY, VENV="")
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    commands = [line for line in proc.stdout.splitlines() if not line.startswith("#")]
    head = next(i for i, c in enumerate(commands) if " --head " in c)
    workers = next(i for i, c in enumerate(commands) if "--address=HEAD_IP:6379" in c)
    polls = [i for i, c in enumerate(commands) if c.startswith("ray status --address HEAD_IP:6379")]
    train = next(i for i, c in enumerate(commands) if c.startswith("python -m rlsum.train"))
    assert head < polls[0] < workers < polls[1] < train == len(commands) - 1
    assert shlex.split(commands[head].removesuffix(" &"))[:4] == ["srun", "--nodes=1", "--ntasks=1", "-w"]
    assert "ray start --block --num-gpus=4" in commands[head] and commands[head].endswith(" &")
    assert "--nodes=2" in commands[workers] and "--exclude=NODE0" in commands[workers]
    assert shlex.split(commands[train]) == TRAIN + OVERRIDES + ["trainer.nnodes=3", "trainer.n_gpus_per_node=4"]
    assert "WANDB_MODE=online" in proc.stdout


def test_slurm_runs_ray_then_training_and_stops_ray(tmp_path):
    """The real path against stand-in Slurm and Ray commands on one 2-node allocation."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    stand_in(bin_dir, "scontrol", "echo gpu-a; echo gpu-b\n")
    stand_in(bin_dir, "srun", f"""echo "srun $*" >> {log}
while [[ $1 == -* ]]; do if [ "$1" = -w ]; then shift; fi; shift; done
if [ "$1" = bash ]; then echo 127.0.1.1 10.1.2.3; echo "10.1.2.3 172.17.0.1 "; exit; fi
touch {tmp_path}/up.$$
trap 'echo "stopped $$" >> {log}; kill $! 2>/dev/null; exit 0' TERM
sleep 30 & wait
""")
    stand_in(bin_dir, "ray", f'echo "Usage:"; echo " 0.0/$(( $(ls {tmp_path}/up.* 2>/dev/null | wc -l) * 4 )).0 GPU"\n')
    stand_in(bin_dir, "python", f'echo "python $RAY_ADDRESS $WANDB_MODE" >> {log}; printf "%s\\n" "$@" > {tmp_path}/argv; exit 3\n')
    proc = run("slurm.sbatch", *OVERRIDES, cwd=tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}",
               SLURM_JOB_ID="7", SLURM_JOB_NUM_NODES="2", SLURM_JOB_NODELIST="gpu-[a-b]",
               SLURM_GPUS_PER_NODE="h200:4", SLURM_SUBMIT_DIR=str(ROOT), RAY_POLL_SECONDS="0.1", VENV="")
    assert proc.returncode == 3, proc.stderr  # the training's exit status
    lines = log.read_text().splitlines()
    assert "--head --node-ip-address=10.1.2.3 --port=6379" in lines[1] and "-w gpu-a" in lines[1]
    assert "--exclude=gpu-a" in lines[2] and "--address=10.1.2.3:6379" in lines[2]
    assert lines[3] == "python 10.1.2.3:6379 offline"
    assert (tmp_path / "argv").read_text().splitlines() == ["-m", "rlsum.train", *OVERRIDES,
                                                            "trainer.nnodes=2", "trainer.n_gpus_per_node=4"]
    assert sum(line.startswith("stopped") for line in lines) == 2


def test_slurm_scorer_serves_the_ranker_from_the_head(tmp_path):
    proc = run("slurm.sbatch", *OVERRIDES, cwd=tmp_path, DRY_RUN="1", SLURM_JOB_NUM_NODES="2", GPUS_PER_NODE="8", VENV="", SCORER="1")
    assert proc.returncode == 0, proc.stderr
    commands = [line for line in proc.stdout.splitlines() if not line.startswith("#")]
    head = next(c for c in commands if " --head " in c)
    assert '--resources={"rlsum_scorer": 1}' in shlex.split(head.removesuffix(" &"))
    train = shlex.split(next(c for c in commands if c.startswith("python -m rlsum.train")))
    assert train == TRAIN + OVERRIDES + ["trainer.nnodes=2", "trainer.n_gpus_per_node=7", "ranker.serve=true"]
    one_line_error(run("slurm.sbatch", cwd=tmp_path, DRY_RUN="1", VENV="", SCORER="yes"), "SCORER")


def test_slurm_outside_slurm_fails_in_one_line(tmp_path):
    one_line_error(run("slurm.sbatch", *OVERRIDES, cwd=tmp_path), "Slurm")
