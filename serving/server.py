"""The `/v1/score` HTTP server (SGLang-compatible; DESIGN.md "Scoring HTTP API").

    python -m serving.server --model-path PATH [--port 30000] [--host 127.0.0.1] ...

Requests are validated at the edge (`serving.protocol`), tokenized on one helper thread,
queued in the dynamic batcher (`serving.batcher`) and scored by the engine on a worker
thread. Status codes: 400 for a request that cannot be scored as sent (the message names
the problem), 413 for a body over `--max-body-bytes`, 503 with `Retry-After` when the
queue is full or the server is shutting down (retrying later can succeed), 504 when a
request is not scored within `--request-timeout-s` (queued plus scoring time; it was
accepted, so it is not retried blindly). On SIGTERM uvicorn stops accepting connections
and waits for requests in flight; the lifespan shutdown then drains the batcher.
Also: `GET /health`, `GET /v1/models`, `GET /metrics` (Prometheus), `GET /openapi.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from ranker.cli import run_cli
from serving.batcher import BatcherUnavailable, DynamicBatcher
from serving.protocol import ErrorResponse, Limits, RequestError, ScoreRequest, ScoreResponse, Usage, describe_validation_errors, prompt_tokens, tokenize_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    max_queue: int = 1024  # requests waiting for the batcher; more get 503
    max_wait_s: float = 0.005  # how long a batch waits for more requests
    request_timeout_s: float = 30.0
    max_request_tokens: int = 1 << 20  # prompt_tokens of one request
    max_body_bytes: int = 16 << 20
    retry_after_s: int = 1  # Retry-After of a 503


class ApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error_type, self.message, self.headers = status, error_type, message, headers


ERROR_TYPES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 503: "overloaded", 504: "timeout"}


def error_response(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(message=message, type=error_type, code=status)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


class ServerMetrics:
    """The server's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.latency = Histogram("score_request_duration_seconds", "Time to answer a /v1/score request that was scored (tokenizing, queueing, scoring)", registry=self.registry)
        self.items = Counter("score_items", "Items scored (rate() gives items per second)", registry=self.registry)
        self.queue_depth = Gauge("score_queue_depth", "Requests waiting for the batcher", registry=self.registry)
        self.in_flight = Gauge("score_requests_in_flight", "Requests in the batch the engine is scoring", registry=self.registry)
        self.batch_tokens = Histogram("score_batch_tokens", "Tokens the engine ran per batch", buckets=[2**k for k in range(6, 18)], registry=self.registry)
        self.batch_requests = Histogram("score_batch_requests", "Requests coalesced into one batch", buckets=[1, 2, 4, 8, 16, 32, 64, 128], registry=self.registry)
        self.batch_seconds = Histogram("score_batch_seconds", "Seconds the engine took per batch", buckets=[0.001 * 2**k for k in range(15)], registry=self.registry)
        self.errors = Counter("score_errors", "Error responses by type", ["type"], registry=self.registry)

    def observe_batch(self, requests: int, tokens: int, seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_tokens.observe(tokens)
        self.batch_seconds.observe(seconds)


class BodySizeLimit:
    """413 for a request body over `max_bytes`: at once when Content-Length says so, else
    while reading (chunked uploads). The body is read in full before the app sees it."""

    def __init__(self, app, max_bytes: int, on_reject):
        self.app, self.max_bytes, self.on_reject = app, max_bytes, on_reject

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(scope, receive, send, f"request body is {int(declared)} bytes, over the limit of {self.max_bytes} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._reject(scope, receive, send, f"request body is over the limit of {self.max_bytes} bytes")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()  # later messages: disconnect
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send, message: str):
        self.on_reject()
        await error_response(413, ERROR_TYPES[413], message, {"Connection": "close"})(scope, receive, send)


ERROR_DOCS = {status: {"model": ErrorResponse, "description": description} for status, description in (
    (400, "The request cannot be scored as sent; the message names the problem"),
    (413, "Request body too large"),
    (503, "Queue full or shutting down; retry after the Retry-After header's seconds"),
    (504, "Not scored within the request timeout"),
)}


def create_app(engine, settings: ServerSettings = ServerSettings()) -> FastAPI:
    """The FastAPI app around a loaded `ScoringEngine`."""
    metrics = ServerMetrics()
    batcher = DynamicBatcher(engine.score, engine.max_batch_tokens, settings.max_wait_s, settings.max_queue, metrics.observe_batch)
    metrics.queue_depth.set_function(lambda: batcher.depth)
    metrics.in_flight.set_function(lambda: batcher.in_flight)
    # Two delimiters go with every pair in a packed sequence (serving.plan).
    limits = Limits(engine.vocab_size, engine.max_pair_tokens, settings.max_request_tokens)
    tokenizing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize")  # one: HF tokenizers are not safe to share across threads

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        log.info("serving %s: vocab %d, %d tokens per pair, settings %s", engine.model_name, engine.vocab_size, limits.max_pair_tokens, asdict(settings))
        yield
        log.info("shutting down: scoring %d queued requests", batcher.depth)
        await batcher.close()
        tokenizing.shutdown()

    app = FastAPI(title="rlsum scoring server", description="SGLang-compatible /v1/score: label-token probabilities of (query, item) pairs with multi-item scoring.", lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, on_reject=lambda: metrics.errors.labels(ERROR_TYPES[413]).inc())

    def answer_error(status: int, error_type: str, message: str, headers=None) -> JSONResponse:
        metrics.errors.labels(error_type).inc()
        return error_response(status, error_type, message, headers)

    @app.exception_handler(ApiError)
    async def _api_error(request, error: ApiError):
        return answer_error(error.status, error.error_type, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request, error: RequestValidationError):
        return answer_error(400, ERROR_TYPES[400], describe_validation_errors(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, error: StarletteHTTPException):
        return answer_error(error.status_code, ERROR_TYPES.get(error.status_code, "http_error"), str(error.detail), error.headers)

    @app.exception_handler(Exception)
    async def _internal_error(request, error: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return answer_error(500, "internal_error", f"internal error: {type(error).__name__}: {error}")

    @app.post("/v1/score", response_model=ScoreResponse, responses=ERROR_DOCS)
    async def score(request: ScoreRequest) -> ScoreResponse:
        started = time.perf_counter()
        try:
            tokenized = await asyncio.get_running_loop().run_in_executor(tokenizing, tokenize_request, request, engine.tokenizer, limits)
        except RequestError as error:
            raise ApiError(400, ERROR_TYPES[400], str(error)) from None
        rows = []
        if tokenized.items:
            try:
                rows = (await asyncio.wait_for(batcher.submit(tokenized), settings.request_timeout_s)).tolist()
            except BatcherUnavailable as error:
                raise ApiError(503, ERROR_TYPES[503], f"{error}; retry after {settings.retry_after_s} s", {"Retry-After": str(settings.retry_after_s)}) from None
            except asyncio.TimeoutError:
                raise ApiError(504, ERROR_TYPES[504], f"not scored within the request timeout of {settings.request_timeout_s:g} s (queued and scoring); the server is overloaded or the request too large") from None
        tokens = prompt_tokens(tokenized)
        metrics.items.inc(len(tokenized.items))
        metrics.latency.observe(time.perf_counter() - started)
        return ScoreResponse(scores=rows, model=engine.model_name, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": engine.model_name, "object": "model", "owned_by": "rlsum", "max_model_len": engine.max_pair_tokens}]}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus_metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    _document_400_not_422(app)
    return app


def _document_400_not_422(app: FastAPI) -> None:
    """Validation errors are answered 400 in the error shape; drop FastAPI's 422 schema."""
    build = app.openapi

    def openapi() -> dict:
        schema = build()
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema

    app.openapi = openapi


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = ServerSettings()
    parser = argparse.ArgumentParser(prog="python -m serving.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-path", required=True, help="HF causal-LM directory (with tokenizer)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--backend", default="torch", help="attention backend of the engine")
    parser.add_argument("--scoring-mode", default="mis", help="mis (multi-item), prefix or naive")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--max-batch-tokens", type=int, default=8192, help="token budget of one engine batch")
    parser.add_argument("--max-queue", type=int, default=defaults.max_queue, help="requests that may wait; more get 503")
    parser.add_argument("--max-wait-ms", type=float, default=defaults.max_wait_s * 1e3, help="how long a batch waits for more requests")
    parser.add_argument("--request-timeout-s", type=float, default=defaults.request_timeout_s)
    parser.add_argument("--max-request-tokens", type=int, default=defaults.max_request_tokens, help="prompt tokens (query + item, summed over items) of one request")
    parser.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from serving.engine import load_engine

    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, value in (("--max-queue", args.max_queue), ("--max-request-tokens", args.max_request_tokens), ("--max-body-bytes", args.max_body_bytes)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if args.request_timeout_s <= 0 or args.max_wait_ms < 0:
        raise ValueError("--request-timeout-s must be > 0 and --max-wait-ms >= 0")
    engine = load_engine(args.model_path, backend=args.backend, mode=args.scoring_mode, dtype=args.dtype, device=args.device, max_batch_tokens=args.max_batch_tokens)
    settings = ServerSettings(max_queue=args.max_queue, max_wait_s=args.max_wait_ms / 1e3, request_timeout_s=args.request_timeout_s, max_request_tokens=args.max_request_tokens, max_body_bytes=args.max_body_bytes)
    uvicorn.run(create_app(engine, settings), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    run_cli(main, keep_freed=False)  # a server returns freed memory to the system
