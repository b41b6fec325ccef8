"""Integration tests: Debian's gunicorn running the app and Debian's nginx
running nginx/nginx.conf, on loopback ephemeral ports. Requests go through
nginx, as the ALB's do.

nginx, gunicorn and wrk come from Debian (apt-get install -y nginx gunicorn
wrk); without them these tests fail, they are never skipped.
"""

import gzip
import http.client
import json
import signal
import subprocess
import tempfile
import time
import unittest
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from service.tests.harness import (
    TASK_METADATA,
    Gunicorn,
    MetadataEndpoint,
    Nginx,
    gunicorn_settings,
    request,
    tail,
)

FIXTURE_APP = "tests.fixture_app:application"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}

# Stands in for the ALB: the only peer whose X-Forwarded-For nginx believes.
TRUSTED_PEER = "127.0.0.2"


def poll(check, timeout, interval=0.02):
    """Returns check()'s first truthy value, or None after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return None


class ThroughNginxTest(unittest.TestCase):
    """The request path, with nginx's read timeout shortened to keep the 504 test quick."""

    READ_TIMEOUT = 1

    @classmethod
    def setUpClass(cls):
        workdir = Path(cls.enterClassContext(tempfile.TemporaryDirectory(prefix="service-it-")))
        cls.metadata = cls.enterClassContext(MetadataEndpoint(TASK_METADATA))

        cls.gunicorn = Gunicorn(
            workdir,
            wsgi=FIXTURE_APP,
            env={
                "SERVICE_NAME": "web",
                "APP_VERSION": "v1.2.3",
                "ECS_CONTAINER_METADATA_URI_V4": cls.metadata.uri,
            },
        )
        cls.addClassCleanup(cls.gunicorn.stop)
        cls.gunicorn.start()

        cls.nginx = Nginx(
            workdir,
            cls.gunicorn.port,
            trusted_proxy_cidr=f"{TRUSTED_PEER}/32",
            overrides={"proxy_read_timeout 20s;": f"proxy_read_timeout {cls.READ_TIMEOUT}s;"},
        )
        cls.addClassCleanup(cls.nginx.stop)
        cls.nginx.start()

    def get(self, path, **kwargs):
        return request(self.nginx.port, path, **kwargs)

    def test_nginx_config_test_passes(self):
        result = self.nginx.check_config()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("test is successful", result.stderr)

    def test_index_returns_the_service_json(self):
        resp = self.get("/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers["Content-Type"], "application/json")
        self.assertEqual(
            resp.json(),
            {
                "service": "web",
                "version": "v1.2.3",
                "availability_zone": "eu-west-1b",
                "task_id": "0123456789abcdef0123456789abcdef",
            },
        )

    def test_probes(self):
        for path, want in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})):
            with self.subTest(path):
                resp = self.get(path)
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.json(), want)

    def test_unknown_path_is_a_json_404(self):
        resp = self.get("/no/such/page")
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.headers["Content-Type"], "application/json")
        self.assertEqual(resp.json(), {"error": "not found"})

    def test_oversized_body_is_a_json_413_that_never_reaches_the_app(self):
        marker = uuid.uuid4().hex
        resp = self.get(f"/?{marker}", method="POST", body=b"x" * (1024 * 1024 + 1))
        self.assertEqual(resp.status, 413)
        self.assertEqual(resp.json(), {"error": "request body too large"})
        self.assertNotIn(marker, "\n".join(self.gunicorn.log_lines()))

    def test_oversized_header_is_a_json_400(self):
        resp = self.get("/", headers={"X-Big": "a" * 10_000})
        self.assertEqual(resp.status, 400)
        self.assertEqual(resp.json(), {"error": "bad request"})

    def test_slow_upstream_is_a_504_within_the_read_timeout(self):
        started = time.monotonic()
        resp = self.get("/slow?seconds=3")
        elapsed = time.monotonic() - started
        self.assertEqual(resp.status, 504)
        self.assertEqual(resp.json(), {"error": "gateway timeout"})
        self.assertGreaterEqual(elapsed, self.READ_TIMEOUT * 0.9)
        self.assertLess(elapsed, self.READ_TIMEOUT + 1.5)

    def test_security_headers_on_every_kind_of_response(self):
        cases = [
            ("app 200", lambda: self.get("/"), 200),
            ("app 404", lambda: self.get("/nope"), 404),
            ("nginx 413", lambda: self.get("/", method="POST", body=b"x" * (1024 * 1024 + 1)), 413),
        ]
        for name, send, want_status in cases:
            with self.subTest(name):
                resp = send()
                self.assertEqual(resp.status, want_status)
                for header, value in SECURITY_HEADERS.items():
                    self.assertEqual(resp.headers[header], value, header)
                self.assertEqual(resp.headers["Server"], "nginx", "no version, no upstream banner")
                self.assertRegex(resp.headers["X-Request-ID"], r"^[0-9a-f]{32}$")

    def test_gzip_when_the_client_accepts_it(self):
        plain = self.get("/large?bytes=4096")
        self.assertIsNone(plain.headers["Content-Encoding"])
        packed = self.get("/large?bytes=4096", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(packed.headers["Content-Encoding"], "gzip")
        self.assertIn("Accept-Encoding", packed.headers["Vary"])
        self.assertLess(len(packed.body), len(plain.body))
        self.assertEqual(json.loads(gzip.decompress(packed.body)), plain.json())

    def test_client_ip_comes_from_x_forwarded_for_only_from_a_trusted_peer(self):
        cases = [
            ("untrusted peer", "127.0.0.1", "203.0.113.9", "127.0.0.1", "203.0.113.9, 127.0.0.1"),
            ("trusted peer", TRUSTED_PEER, "203.0.113.9", "203.0.113.9", f"203.0.113.9, {TRUSTED_PEER}"),
            ("trusted peer, client-supplied prefix", TRUSTED_PEER, "6.6.6.6, 203.0.113.9", "203.0.113.9",
             f"6.6.6.6, 203.0.113.9, {TRUSTED_PEER}"),
            ("trusted peer, no header", TRUSTED_PEER, None, TRUSTED_PEER, TRUSTED_PEER),
        ]
        for name, source, forwarded_for, want_ip, want_chain in cases:
            with self.subTest(name):
                headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
                resp = self.get("/echo", headers=headers, source=source)
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.json()["x_real_ip"], want_ip)
                self.assertEqual(resp.json()["x_forwarded_for"], want_chain)
                entry = self.access_log_entry(resp.headers["X-Request-ID"])
                self.assertEqual(entry["remote_addr"], want_ip)
                self.assertEqual(entry["peer_addr"], source)

    def test_request_id_reaches_the_app_and_its_log(self):
        resp = self.get("/echo")
        request_id = resp.headers["X-Request-ID"]
        self.assertEqual(resp.json()["x_request_id"], request_id)
        logged = [json.loads(line) for line in self.gunicorn.log_lines()]
        self.assertIn(request_id, [entry.get("request_id") for entry in logged])

    def test_access_log_is_json_with_timings_and_no_probes(self):
        self.get("/healthz")
        self.get("/readyz")
        resp = self.get("/")
        entry = self.access_log_entry(resp.headers["X-Request-ID"])
        self.assertEqual(entry["status"], 200)
        self.assertEqual(entry["uri"], "/")
        self.assertIsInstance(entry["request_time"], float)
        self.assertGreaterEqual(float(entry["upstream_response_time"]), 0)
        self.assertEqual(entry["upstream_addr"], f"127.0.0.1:{self.gunicorn.port}")
        uris = [json.loads(line)["uri"] for line in self.nginx.access_log_lines()]
        self.assertFalse([uri for uri in uris if uri.startswith(("/healthz", "/readyz"))], uris)

    def test_app_and_gunicorn_logs_are_json_lines(self):
        self.get("/")
        lines = self.gunicorn.log_lines()
        self.assertTrue(lines)
        loggers = set()
        for line in lines:
            entry = json.loads(line)
            self.assertIsInstance(entry, dict, line)
            self.assertTrue({"time", "level", "logger", "message"} <= entry.keys(), line)
            loggers.add(entry["logger"])
        self.assertEqual(loggers, {"gunicorn.error", "service"})

    def access_log_entry(self, request_id):
        """The access log entry of a request; nginx writes it just after the response."""

        def find():
            for line in self.nginx.access_log_lines():
                entry = json.loads(line)
                if entry["request_id"] == request_id:
                    return entry
            return None

        entry = poll(find, timeout=5)
        self.assertIsNotNone(entry, f"no access log entry for {request_id}")
        return entry


class EntrypointTest(unittest.TestCase):
    """nginx/entrypoint.sh, which writes the trusted range before starting nginx."""

    def setUp(self):
        workdir = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="service-entry-")))
        self.nginx = Nginx(workdir, upstream_port=1)

    def run_entrypoint(self, cidr):
        self.nginx.trusted_proxy_cidr = cidr
        cmd, env = self.nginx.command("-v")
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)

    def test_writes_the_trusted_range_then_runs_nginx(self):
        result = self.run_entrypoint("10.40.0.0/16")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("nginx version", result.stderr)
        self.assertEqual((self.nginx.prefix / "real-ip.conf").read_text(), "set_real_ip_from 10.40.0.0/16;\n")

    def test_rejects_anything_but_a_cidr(self):
        for cidr in ("", "10.0.0.0/16; include /etc/passwd", "10.0.0.0/16/8", "any"):
            with self.subTest(cidr):
                result = self.run_entrypoint(cidr)
                self.assertEqual(result.returncode, 64)
                self.assertIn("TRUSTED_PROXY_CIDR must be an IPv4 CIDR", result.stderr)
                self.assertFalse((self.nginx.prefix / "real-ip.conf").exists())


class GracefulShutdownTest(unittest.TestCase):
    """SIGTERM to gunicorn, as ECS sends it, while requests are in progress."""

    IN_FLIGHT = 3
    SLOW_SECONDS = 2.0

    def setUp(self):
        workdir = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="service-stop-")))
        self.markers = workdir / "in-progress"
        self.markers.mkdir()
        self.gunicorn = Gunicorn(workdir, wsgi=FIXTURE_APP, env={"SLOW_MARKER_DIR": str(self.markers)})
        self.addCleanup(self.gunicorn.stop)
        self.gunicorn.start()
        self.nginx = Nginx(workdir, self.gunicorn.port)
        self.addCleanup(self.nginx.stop)
        self.nginx.start()

    def wait_in_progress(self, count):
        self.assertTrue(
            poll(lambda: len(list(self.markers.iterdir())) >= count, timeout=10),
            f"{count} slow requests did not reach the app",
        )

    def test_sigterm_finishes_requests_in_progress_fails_readiness_and_exits(self):
        grace = gunicorn_settings()["graceful_timeout"]
        port = self.nginx.port
        with ThreadPoolExecutor(self.IN_FLIGHT) as pool:
            in_flight = [
                pool.submit(request, port, f"/slow?seconds={self.SLOW_SECONDS}", timeout=30)
                for _ in range(self.IN_FLIGHT)
            ]
            self.wait_in_progress(self.IN_FLIGHT)

            signalled = time.monotonic()
            self.gunicorn.proc.send_signal(signal.SIGTERM)

            seen = []
            ready = poll(lambda: seen.append(request(port, "/readyz")) or seen[-1].status == 503, timeout=1.0)
            self.assertTrue(ready, f"/readyz answered {[r.status for r in seen]} for 1 s after SIGTERM")
            self.assertEqual({r.status for r in seen[:-1]} - {200}, set(), "only 200s before the first 503")
            self.assertEqual(seen[-1].json(), {"status": "shutting down"})

            refused = request(port, "/")
            self.assertEqual(refused.status, 503)
            self.assertEqual(refused.json(), {"error": "shutting down"})
            self.assertEqual(request(port, "/healthz").status, 200, "liveness holds while draining")
            self.assertEqual(request(port, "/readyz").status, 503, "readiness stays failed")

            responses = [future.result() for future in in_flight]
            drained = time.monotonic()

        for resp in responses:
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.json(), {"slept": self.SLOW_SECONDS})

        self.assertEqual(self.gunicorn.wait_exit(grace), 0)
        exited = time.monotonic()
        self.assertLess(exited - signalled, grace)
        self.assertLess(
            exited - drained, 3.0,
            f"gunicorn exits once drained, not at the end of the grace period\n{tail(self.gunicorn.log_path)}",
        )

        gone = request(port, "/readyz")
        self.assertEqual(gone.status, 502)
        self.assertEqual(gone.json(), {"error": "bad gateway"})


class GracePeriodTest(unittest.TestCase):
    """A request that outlives the grace period does not hold up the exit."""

    GRACE = 2

    def setUp(self):
        workdir = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="service-grace-")))
        self.markers = workdir / "in-progress"
        self.markers.mkdir()
        self.gunicorn = Gunicorn(
            workdir,
            wsgi=FIXTURE_APP,
            args=["--graceful-timeout", str(self.GRACE)],
            env={"SLOW_MARKER_DIR": str(self.markers)},
        )
        self.addCleanup(self.gunicorn.stop)
        self.gunicorn.start()

    def test_exit_at_the_end_of_the_grace_period(self):
        with ThreadPoolExecutor(1) as pool:
            stuck = pool.submit(request, self.gunicorn.port, "/slow?seconds=30", timeout=30)
            self.assertTrue(poll(lambda: any(self.markers.iterdir()), timeout=10))

            signalled = time.monotonic()
            self.gunicorn.proc.send_signal(signal.SIGTERM)
            self.gunicorn.wait_exit(self.GRACE + 10)
            elapsed = time.monotonic() - signalled

            self.assertGreaterEqual(elapsed, self.GRACE - 0.2, "the request got its grace period")
            self.assertLess(elapsed, self.GRACE + 2.0)
            with self.assertRaises((ConnectionError, http.client.HTTPException)):
                stuck.result()


if __name__ == "__main__":
    unittest.main()
