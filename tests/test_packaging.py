"""A non-editable install composes the training config: the wheel carries rlsum/conf
(package data), and `python -m rlsum.train --cfg job` works from the installed package
alone, with the checkout nowhere on the path."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # whole commands or training loops; the fast loop (README, Tests) skips it

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["pyproject.toml", "README.md", "jobdata", "rlsum", "rewards", "ranker", "serving"]


def test_the_wheel_carries_the_configs_and_an_install_of_it_composes(tmp_path):
    import yaml

    # Built from a copy, so the checkout gets no build/ or egg-info of this test's.
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("rlsum-*.whl")

    configs = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rlsum" / "conf").rglob("*.yaml")}
    assert {"rlsum/conf/config.yaml", "rlsum/conf/algo/gspo.yaml", "rlsum/conf/penalty/p1.yaml"} <= configs
    assert configs <= set(zipfile.ZipFile(wheel).namelist())

    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", str(target), str(wheel)], check=True, timeout=300)
    # Our packages from the install only: a working directory outside the checkout, and the
    # target first on the path (the venv's dependencies stay importable after it).
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("HYDRA_FULL_ERROR", None)
    where = subprocess.run([sys.executable, "-c", "import rlsum, rewards, ranker, serving; print(rlsum.__file__, rewards.__file__, ranker.__file__, serving.__file__)"], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    assert all(Path(f).is_relative_to(target) for f in where.stdout.split()), where.stdout
    # rlsum.train composes from the configs next to it (CONF_DIR): the installed ones.
    assert (target / "rlsum" / "conf" / "config.yaml").is_file()

    out = subprocess.run([sys.executable, "-m", "rlsum.train", "+algo=gspo", "--cfg", "job"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    assert cfg["algo"] == {"name": "gspo"} and cfg["actor_rollout_ref"]["actor"]["policy_loss"]["loss_mode"] == "gspo"
    assert list(cwd.iterdir()) == []
