"""Runs the workload's real processes on loopback for the integration tests
and the benchmark: Debian's gunicorn with service/gunicorn.conf.py, and
Debian's nginx with nginx/nginx.conf, each on an ephemeral 127.0.0.1 port.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import runpy
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_DIR = REPO_ROOT / "service"
GUNICORN_CONF = SERVICE_DIR / "gunicorn.conf.py"
NGINX_CONF = REPO_ROOT / "nginx" / "nginx.conf"
NGINX_ENTRYPOINT = REPO_ROOT / "nginx" / "entrypoint.sh"

INSTALL_HINT = "install Debian's packages with: apt-get install -y nginx gunicorn wrk"


def gunicorn_settings(environ: Mapping[str, str] | None = None) -> dict:
    """The settings gunicorn.conf.py defines, given these environment variables."""
    with mock.patch.dict(os.environ, environ or {}, clear=True):
        return runpy.run_path(str(GUNICORN_CONF))


def require_tool(name: str) -> str:
    """Returns the path of an executable, or raises with how to install it."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    path = shutil.which(name, path=search)
    if path is None:
        raise AssertionError(f"{name} is not installed: {INSTALL_HINT}")
    return path


@dataclass
class Response:
    """A complete HTTP response."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        """The body decoded as JSON."""
        return json.loads(self.body)


def request(
    port: int,
    path: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    source: str | None = None,
    timeout: float = 10.0,
) -> Response:
    """Sends one request on a new connection to 127.0.0.1:port."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def wait_for(check: Callable[[], bool], what: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    """Polls check until it is true; fails early if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what}: exited with {proc.returncode}\n{tail(log)}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what}: not ready after {timeout}s\n{tail(log)}")


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for failure messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def stop_process(proc: subprocess.Popen | None, sig: int, timeout: float) -> None:
    """Sends sig, waits up to timeout, then kills."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Gunicorn:
    """gunicorn with the production config, on a listening socket bound here.

    Binding the socket here and passing it as fd://N leaves no window in
    which another process could take the port.
    """

    def __init__(self, workdir: Path, wsgi: str = "app:application", args=(), env: Mapping[str, str] | None = None):
        self.workdir = workdir
        self.wsgi = wsgi
        self.args = list(args)
        self.env = dict(env or {})
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "gunicorn.log"

    def start(self, timeout: float = 20.0) -> Gunicorn:
        """Starts gunicorn and waits until /healthz answers 200."""
        exe = require_tool("gunicorn")
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = listener.getsockname()[1]
        self.log_path = self.workdir / f"gunicorn-{self.port}.log"
        # Debian's gunicorn runs on Debian's python3: nothing from this
        # interpreter's environment may leak into it.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update(self.env)
        env["BIND"] = f"fd://{listener.fileno()}"
        cmd = [exe, "--config", str(GUNICORN_CONF), "--chdir", str(SERVICE_DIR), *self.args, self.wsgi]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=SERVICE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(listener.fileno(),),
                start_new_session=True,
            )
        # Only gunicorn may hold the socket: once it exits, connections must
        # be refused rather than queue here.
        listener.close()
        wait_for(
            lambda: request(self.port, "/healthz", timeout=2).status == 200,
            "gunicorn", timeout, self.proc, self.log_path,
        )
        return self

    def wait_exit(self, timeout: float) -> int:
        """Waits for gunicorn to exit and returns its status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"gunicorn still running after {timeout}s\n{tail(self.log_path)}") from None

    def log_lines(self) -> list[str]:
        """Everything gunicorn and the app wrote, one line per entry."""
        return self.log_path.read_text().splitlines()

    def stop(self) -> None:
        """Stops gunicorn gracefully, killing it if it does not exit in time."""
        stop_process(self.proc, signal.SIGTERM, 30)


def replace_once(text: str, old: str, new: str) -> str:
    """Replaces old, which must occur exactly once."""
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"expected {old!r} exactly once in {NGINX_CONF.name}, found it {count} times")
    return text.replace(old, new)


def free_port() -> int:
    """A port that was free a moment ago."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


class Nginx:
    """Debian's nginx running nginx/nginx.conf, started by nginx/entrypoint.sh.

    The config is changed only where this machine differs from the task: the
    listen address, the upstream port and the /tmp paths, plus any exact
    overrides a test asks for. trusted_proxy_cidr plays the VPC CIDR.
    """

    def __init__(
        self,
        workdir: Path,
        upstream_port: int,
        trusted_proxy_cidr: str = "10.0.0.0/16",
        overrides: Mapping[str, str] | None = None,
    ):
        self.prefix = workdir / f"nginx-{upstream_port}"
        self.prefix.mkdir()
        # Run as root, nginx's workers drop to nobody, who must reach the
        # temp directories under the prefix.
        for path in (workdir, self.prefix):
            os.chmod(path, 0o755)
        self.upstream_port = upstream_port
        self.trusted_proxy_cidr = trusted_proxy_cidr
        self.overrides = dict(overrides or {})
        self.conf_path = self.prefix / "nginx.conf"
        self.access_log = self.prefix / "access.log"
        self.error_log = self.prefix / "error.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def render(self, port: int) -> str:
        """The config for this machine, listening on port."""
        text = NGINX_CONF.read_text()
        text = replace_once(text, "listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;")
        text = replace_once(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{self.upstream_port};")
        for old, new in self.overrides.items():
            text = replace_once(text, old, new)
        return re.sub(r"(?<=\s)/tmp/", f"{self.prefix}/", text)

    def command(self, *nginx_args: str) -> tuple[list[str], dict[str, str]]:
        """The entrypoint command line and environment that run nginx with nginx_args."""
        nginx = require_tool("nginx")
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([os.path.dirname(nginx), env.get("PATH", "")])
        env["TRUSTED_PROXY_CIDR"] = self.trusted_proxy_cidr
        env["NGINX_RUNTIME_DIR"] = str(self.prefix)
        return ["sh", str(NGINX_ENTRYPOINT), *nginx_args], env

    def check_config(self) -> subprocess.CompletedProcess:
        """Runs nginx -t on the rendered config."""
        self.conf_path.write_text(self.render(self.port or free_port()))
        cmd, env = self.command("-t", "-p", f"{self.prefix}/", "-c", str(self.conf_path))
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)

    def start(self, timeout: float = 10.0, attempts: int = 3) -> Nginx:
        """Starts nginx in the foreground and waits until it accepts connections."""
        for attempt in range(attempts):
            port = free_port()
            self.conf_path.write_text(self.render(port))
            cmd, env = self.command("-p", f"{self.prefix}/", "-c", str(self.conf_path), "-g", "daemon off;")
            with open(self.access_log, "ab") as out, open(self.error_log, "ab") as err:
                self.proc = subprocess.Popen(
                    cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
                )
            try:
                wait_for(lambda: _accepts(port), "nginx", timeout, self.proc, self.error_log)
            except AssertionError:
                # Another process may have taken the port since free_port.
                if attempt + 1 < attempts and "Address already in use" in tail(self.error_log):
                    continue
                raise
            self.port = port
            return self
        raise AssertionError("nginx: no free port")

    def access_log_lines(self) -> list[str]:
        """The access log, one JSON entry per line."""
        return self.access_log.read_text().splitlines()

    def stop(self) -> None:
        """Stops nginx."""
        stop_process(self.proc, signal.SIGTERM, 10)


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class MetadataEndpoint:
    """A stand-in for the ECS task metadata endpoint v4, on loopback.

    GET {uri}/task answers status with document as JSON; it counts requests.
    """

    def __init__(self, document, status: int = 200):
        self.hits = 0
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.hits += 1
                found = self.path == "/v4/task-1/task"
                body = json.dumps(document).encode() if found else b"{}"
                self.send_response(status if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self._server.server_address[1]}/v4/task-1"

    def __enter__(self) -> MetadataEndpoint:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


TASK_METADATA = {
    "Cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/main",
    "TaskARN": "arn:aws:ecs:eu-west-1:123456789012:task/main/0123456789abcdef0123456789abcdef",
    "AvailabilityZone": "eu-west-1b",
}
