import pytest

from ranker.template import PromptTemplate
from ranker.tiny import build_tiny_ranker


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """Tiny random Qwen3 and Llama rankers with the real Qwen3 tokenizer. A large init
    scale makes their label probabilities vary from pair to pair, so parity checks bite."""
    root = tmp_path_factory.mktemp("models")
    shape = dict(seed=1, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, initializer_range=0.5)
    dirs = {arch: build_tiny_ranker(root / arch, arch=arch, **shape) for arch in ("qwen3", "llama")}
    dirs["item-first"] = build_tiny_ranker(root / "item-first", arch="qwen3", template=PromptTemplate.item_first_default(), **shape)
    return dirs


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory):
    """A small synthetic job-search data directory (60 postings, 12 queries, all splits)."""
    from jobdata.synth import write_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic(out, seed=5, n_items=60, n_queries=12)
    return out


class _ServerThread:
    """A real uvicorn server on a free 127.0.0.1 port, in a thread of the test process."""

    def __init__(self, app):
        import socket
        import threading
        import time

        import uvicorn

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


@pytest.fixture(scope="session")
def score_server(tiny_model_dirs):
    """`score_server(model="qwen3", **ServerSettings fields) -> base URL` of a real
    /v1/score server for a tiny model; one per model and settings, stopped at session end."""
    from serving.engine import load_engine
    from serving.server import ServerSettings, create_app

    servers = {}

    def start(model: str = "qwen3", **settings) -> str:
        key = (model, tuple(sorted(settings.items())))
        if key not in servers:
            servers[key] = _ServerThread(create_app(load_engine(str(tiny_model_dirs[model])), ServerSettings(**settings)))
        return servers[key].url

    yield start
    for server in servers.values():
        server.stop()


def read_metric(url: str, sample: str) -> float:
    """The value of one sample (name with labels, as exposed) on a server's /metrics."""
    import httpx

    for line in httpx.get(f"{url}/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def wait_for_metric(url: str, sample: str, value: float, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while read_metric(url, sample) != value:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sample} did not reach {value} within {timeout} s")
        time.sleep(0.005)


@pytest.fixture(scope="session")
def metric():
    """`metric(url, sample) -> float`, read from a server's /metrics."""
    return read_metric


@pytest.fixture(scope="session")
def metric_reaches():
    """`metric_reaches(url, sample, value)`: wait until a /metrics sample has that value."""
    return wait_for_metric


@pytest.fixture(scope="session")
def queued_server(score_server):
    """A server that coalesces up to `max_queue` waiting requests, waiting up to 0.5 s
    for company: `.url`, `.max_queue`."""
    from types import SimpleNamespace

    max_queue = 3
    return SimpleNamespace(url=score_server(max_queue=max_queue, max_wait_s=0.5), max_queue=max_queue)


@pytest.fixture
def saturated_server(queued_server):
    """The queued server with its engine busy on one long request and its queue full, so
    the next request gets a 503. Yields the URL; on teardown checks that the requests used
    to saturate it were all answered 200."""
    import random
    import threading

    import httpx

    url = queued_server.url
    rng = random.Random(0)
    # 64 items of 1,000 tokens: about 0.6 s of scoring for the tiny CPU model, far longer
    # than filling the queue takes.
    long_request = {"query": [rng.randrange(1000, 100000) for _ in range(10)], "items": [[rng.randrange(1000, 100000) for _ in range(1000)] for _ in range(64)], "label_token_ids": [9454, 2753]}
    small_request = {"query": "remote data engineer", "items": ["Senior Data Engineer, remote"], "label_token_ids": [9454, 2753]}
    statuses = []

    def send(body):
        statuses.append(httpx.post(f"{url}/v1/score", json=body, timeout=120).status_code)

    threads = [threading.Thread(target=send, args=(long_request,))]
    threads[0].start()
    wait_for_metric(url, "score_requests_in_flight", 1)
    for _ in range(queued_server.max_queue):
        threads.append(threading.Thread(target=send, args=(small_request,)))
        threads[-1].start()
    # A full queue starts a batch at once, so it stays full only while the engine is busy.
    wait_for_metric(url, "score_queue_depth", queued_server.max_queue)
    yield url
    for thread in threads:
        thread.join(120)
    assert statuses == [200] * len(threads)
