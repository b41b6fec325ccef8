"""The service's application with three routes that only the integration
tests use. gunicorn loads it as tests.fixture_app:application from service/.

  /slow?seconds=N   sleeps N seconds; with SLOW_MARKER_DIR set, it first
                    drops a file there so a test knows the request is in progress
  /echo             the forwarding headers that reached the app
  /large?bytes=N    a body of about N bytes
"""

import os
import time
import uuid
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs

from app import Application, Config


def _param(environ: dict, name: str, default: str) -> str:
    return parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])[0]


class FixtureApplication(Application):
    """Application plus the test-only routes."""

    def __init__(self, config: Config, marker_dir: str | None) -> None:
        super().__init__(config)
        self._marker_dir = Path(marker_dir) if marker_dir else None
        self.routes.update({"/slow": self._slow, "/echo": self._echo, "/large": self._large})

    def _slow(self, environ: dict) -> tuple[HTTPStatus, dict]:
        seconds = float(_param(environ, "seconds", "1"))
        if self._marker_dir:
            (self._marker_dir / uuid.uuid4().hex).touch()
        time.sleep(seconds)
        return HTTPStatus.OK, {"slept": seconds}

    def _echo(self, environ: dict) -> tuple[HTTPStatus, dict]:
        return HTTPStatus.OK, {
            "x_real_ip": environ.get("HTTP_X_REAL_IP"),
            "x_forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
            "x_request_id": environ.get("HTTP_X_REQUEST_ID"),
        }

    def _large(self, environ: dict) -> tuple[HTTPStatus, dict]:
        return HTTPStatus.OK, {"data": "x" * int(_param(environ, "bytes", "4096"))}


application = FixtureApplication(Config.from_environ(os.environ), os.environ.get("SLOW_MARKER_DIR"))
