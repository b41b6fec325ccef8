"""The web service that the ECS task runs behind its nginx sidecar.

A WSGI application served by gunicorn (see gunicorn.conf.py). It uses the
standard library only, so it runs unchanged on any Python 3.11 or later.

Routes:
  /         service name, version, and the task's AZ and ID
  /healthz  liveness: the process is up and serving
  /readyz   readiness: fails as soon as shutdown has begun
Anything else is a JSON 404.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"

LOG = logging.getLogger("service")

Handler = Callable[[dict], tuple[HTTPStatus, dict]]


@dataclass(frozen=True)
class Config:
    """Settings read once from the environment."""

    service_name: str
    version: str
    # Set by the ECS agent in every container of the task; absent elsewhere.
    metadata_uri: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """Builds a Config from environment variables, with defaults for local runs."""
        return cls(
            service_name=environ.get("SERVICE_NAME") or "ecsplane-service",
            version=environ.get("APP_VERSION") or "unknown",
            metadata_uri=environ.get("ECS_CONTAINER_METADATA_URI_V4") or None,
        )


class TaskMetadata:
    """The task's AZ and ID, read from the ECS task metadata endpoint v4.

    The first successful answer is kept for the life of the process. A failed
    read is retried only after retry_after seconds, so that an unreachable
    endpoint costs one timeout now and then rather than one per request.
    """

    UNKNOWN = {"availability_zone": None, "task_id": None}

    def __init__(
        self,
        base_uri: str | None,
        timeout: float = 1.0,
        retry_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = base_uri.rstrip("/") + "/task" if base_uri else None
        self._timeout = timeout
        self._retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._value: dict | None = None
        self._next_attempt = 0.0
        # The endpoint is link-local: a proxy from the environment must not be used.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self) -> dict:
        """Returns availability_zone and task_id; each is None when unknown."""
        if self._url is None:
            return dict(self.UNKNOWN)
        with self._lock:
            if self._value is None and self._clock() >= self._next_attempt:
                try:
                    self._value = self._fetch()
                except (OSError, ValueError) as exc:
                    self._next_attempt = self._clock() + self._retry_after
                    LOG.warning("task metadata unavailable", extra={"fields": {"error": str(exc)}})
            return dict(self._value or self.UNKNOWN)

    def _fetch(self) -> dict:
        with self._opener.open(self._url, timeout=self._timeout) as resp:
            doc = json.load(resp)
        if not isinstance(doc, dict):
            raise ValueError("task metadata is not a JSON object")
        task_arn = doc.get("TaskARN") or ""
        return {
            "availability_zone": doc.get("AvailabilityZone"),
            "task_id": task_arn.rsplit("/", 1)[-1] or None,
        }


class Application:
    """The WSGI callable.

    routes maps each path to a handler, handler(environ) -> (status, body);
    /healthz and /readyz are answered before it is consulted.

    It counts the requests in progress so that a graceful shutdown can wait
    for them: after begin_shutdown, /readyz answers 503, new work is refused
    with 503, /healthz still answers 200, and wait_idle returns once the
    requests already in progress have finished.
    """

    def __init__(self, config: Config, metadata: TaskMetadata | None = None) -> None:
        self.config = config
        self._metadata = metadata or TaskMetadata(config.metadata_uri)
        self._idle = threading.Condition()
        self._in_flight = 0
        self._shutting_down = False
        self.routes: dict[str, Handler] = {"/": self._index}

    def begin_shutdown(self) -> None:
        """Fails readiness and refuses new work from now on.

        It takes no lock, so a signal handler may call it.
        """
        self._shutting_down = True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Blocks until no request is in progress; False if timeout passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO") or "/"
        status, body, extra_headers = self._respond(method, path, environ)

        payload = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        start_response(
            f"{status.value} {status.phrase}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Cache-Control", "no-store"),
                *extra_headers,
            ],
        )
        probe = path in (HEALTH_PATH, READY_PATH)
        LOG.log(
            logging.DEBUG if probe and status == HTTPStatus.OK else logging.INFO,
            "request",
            extra={
                "fields": {
                    "method": method,
                    "path": path,
                    "status": status.value,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "request_id": environ.get("HTTP_X_REQUEST_ID"),
                    "client_ip": environ.get("HTTP_X_REAL_IP") or environ.get("REMOTE_ADDR"),
                }
            },
        )
        return [] if method == "HEAD" else [payload]

    def _respond(self, method: str, path: str, environ: dict) -> tuple[HTTPStatus, dict, list]:
        if method not in ("GET", "HEAD"):
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}, [("Allow", "GET, HEAD")]
        if path == HEALTH_PATH:
            return HTTPStatus.OK, {"status": "ok"}, []
        if path == READY_PATH:
            if self._shutting_down:
                return HTTPStatus.SERVICE_UNAVAILABLE, {"status": "shutting down"}, []
            return HTTPStatus.OK, {"status": "ready"}, []
        if not self._enter():
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "shutting down"}, []
        try:
            handler = self.routes.get(path)
            if handler is None:
                return HTTPStatus.NOT_FOUND, {"error": "not found"}, []
            status, body = handler(environ)
            return status, body, []
        except Exception:
            LOG.exception("request failed", extra={"fields": {"path": path}})
            return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"}, []
        finally:
            self._leave()

    def _enter(self) -> bool:
        with self._idle:
            if self._shutting_down:
                return False
            self._in_flight += 1
            return True

    def _leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def _index(self, environ: dict) -> tuple[HTTPStatus, dict]:
        return HTTPStatus.OK, {
            "service": self.config.service_name,
            "version": self.config.version,
            **self._metadata.get(),
        }


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line.

    Structured fields go in the record's "fields" attribute:
    LOG.info("message", extra={"fields": {"key": value}}).
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def create_app(environ: Mapping[str, str]) -> Application:
    """Builds the application from environment variables."""
    return Application(Config.from_environ(environ))


application = create_app(os.environ)
