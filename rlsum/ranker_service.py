"""The frozen ranker as a `/v1/score` server on a GPU of its own in the Ray cluster
(`ranker.serve=true`), so verl's reward workers score through it (`ranker.scorer_url`)
instead of loading a copy each beside the actor and vLLM.

The server (`python -m serving.server`) runs in a detached Ray actor that holds one GPU,
on a node offering the custom resource `rlsum_scorer` when the cluster has one (the
launchers' scorer node), else on any GPU node with a free GPU. It outlives the driver's
short connections (verl's `run_ppo` joins the cluster anew) and is stopped at the end.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import time

log = logging.getLogger(__name__)

SCORER_RESOURCE = "rlsum_scorer"
ACTOR_NAME = "rlsum-ranker-server"
NAMESPACE = "rlsum"  # every driver connection has a namespace of its own unless named


class RankerServer:
    """A Ray actor running the scoring server as a child process on this node's GPU."""

    def __init__(self, model_path: str, dtype: str):
        import ray

        with socket.socket() as probe:  # a free port on this node
            probe.bind(("", 0))
            self.port = probe.getsockname()[1]
        self.host = ray.util.get_node_ip_address()
        self.process = subprocess.Popen([sys.executable, "-m", "serving.server", "--model-path", model_path, "--host", "0.0.0.0", "--port", str(self.port), "--dtype", dtype])

    def url(self) -> str:
        if self.process.poll() is not None:
            raise RuntimeError(f"the ranker server exited with status {self.process.returncode}")
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(address: str, model_path: str, dtype: str, timeout_s: float = 600.0) -> str:
    """Start the server on the cluster at `address`; its URL once `/health` answers."""
    import ray

    from rlsum.verl_engine import connect
    from serving.client import ScoreClient

    connect(address)
    resources = {SCORER_RESOURCE: 0.001} if ray.cluster_resources().get(SCORER_RESOURCE) else {}
    actor = ray.remote(RankerServer).options(name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached", num_gpus=1, num_cpus=1, resources=resources, get_if_exists=True).remote(model_path, dtype)
    url = ray.get(actor.url.remote())
    log.info("ranker server for %s at %s; waiting until healthy", model_path, url)

    async def wait() -> None:
        client = ScoreClient(url)
        try:
            await client.wait_until_healthy(timeout_s)
        finally:
            await client.aclose()

    try:
        asyncio.run(wait())
    except TimeoutError:
        stop(address)
        raise
    return url


def stop(address: str) -> None:
    """Stop the server started by `start`, if it runs."""
    import ray

    from rlsum.verl_engine import connect

    connect(address)
    try:
        actor = ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
    except ValueError:
        return
    ray.get(actor.stop.remote())
    ray.kill(actor)
    # ray.kill returns before the name is released; until then a `start` would get the
    # dying actor back (get_if_exists), so wait for the name to go.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
        except ValueError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the ranker server actor {ACTOR_NAME!r} was killed but still holds its name after 30 s")
