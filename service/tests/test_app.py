"""Unit tests of the WSGI application, in process."""

import contextlib
import io
import json
import logging
import sys
import threading
import unittest
import wsgiref.simple_server
from http import HTTPStatus
from wsgiref.util import setup_testing_defaults

from service import app as service
from service import healthcheck
from service.tests.harness import TASK_METADATA, MetadataEndpoint


def call(application, path="/", method="GET", headers=None):
    """Calls the WSGI app; returns (status code, headers, body)."""
    environ = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD=method)
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen = {}

    def start_response(status, response_headers):
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(response_headers)

    body = b"".join(application(environ, start_response))
    return seen["status"], seen["headers"], body


def new_app(environ=None, **kwargs):
    return service.Application(service.Config.from_environ(environ or {}), **kwargs)


class ConfigTest(unittest.TestCase):
    def test_from_environ(self):
        cases = [
            ("defaults", {}, service.Config("ecsplane-service", "unknown", None)),
            (
                "set",
                {"SERVICE_NAME": "web", "APP_VERSION": "v1.2.3", "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/x"},
                service.Config("web", "v1.2.3", "http://169.254.170.2/v4/x"),
            ),
            ("empty values fall back", {"SERVICE_NAME": "", "ECS_CONTAINER_METADATA_URI_V4": ""}, service.Config("ecsplane-service", "unknown", None)),
        ]
        for name, environ, want in cases:
            with self.subTest(name):
                self.assertEqual(service.Config.from_environ(environ), want)


class RoutesTest(unittest.TestCase):
    def test_routes(self):
        app = new_app({"SERVICE_NAME": "web", "APP_VERSION": "v7"})
        cases = [
            ("index", "GET", "/", 200, {"service": "web", "version": "v7", "availability_zone": None, "task_id": None}),
            ("liveness", "GET", "/healthz", 200, {"status": "ok"}),
            ("readiness", "GET", "/readyz", 200, {"status": "ready"}),
            ("unknown path", "GET", "/nope", 404, {"error": "not found"}),
            ("trailing slash is another path", "GET", "/healthz/", 404, {"error": "not found"}),
            ("method not allowed", "POST", "/", 405, {"error": "method not allowed"}),
            ("method not allowed on a probe", "DELETE", "/healthz", 405, {"error": "method not allowed"}),
        ]
        for name, method, path, want_status, want_body in cases:
            with self.subTest(name):
                status, headers, body = call(app, path, method)
                self.assertEqual(status, want_status)
                self.assertEqual(headers["Content-Type"], "application/json")
                self.assertEqual(headers["Cache-Control"], "no-store")
                self.assertEqual(int(headers["Content-Length"]), len(body))
                self.assertEqual(json.loads(body), want_body)

    def test_method_not_allowed_lists_allowed_methods(self):
        _, headers, _ = call(new_app(), "/", "PUT")
        self.assertEqual(headers["Allow"], "GET, HEAD")

    def test_head_has_headers_but_no_body(self):
        status, headers, body = call(new_app(), "/healthz", "HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertGreater(int(headers["Content-Length"]), 0)

    def test_handler_error_is_a_json_500_and_logged(self):
        app = new_app()

        def broken(environ):
            raise RuntimeError("boom")

        app.routes["/broken"] = broken
        with self.assertLogs("service", level="ERROR") as logs:
            status, _, body = call(app, "/broken")
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(body), {"error": "internal error"})
        self.assertIn("RuntimeError: boom", service.JsonFormatter().format(logs.records[0]))


class TaskMetadataTest(unittest.TestCase):
    def test_index_reports_az_and_task_id(self):
        with MetadataEndpoint(TASK_METADATA) as server:
            app = new_app({"ECS_CONTAINER_METADATA_URI_V4": server.uri})
            _, _, first = call(app, "/")
            _, _, second = call(app, "/")
        self.assertEqual(json.loads(first)["availability_zone"], "eu-west-1b")
        self.assertEqual(json.loads(first)["task_id"], "0123456789abcdef0123456789abcdef")
        self.assertEqual(first, second)
        self.assertEqual(server.hits, 1, "a successful read is kept")

    def test_failure_is_retried_only_after_the_interval(self):
        now = [100.0]
        with MetadataEndpoint({}, status=500) as server:
            metadata = service.TaskMetadata(server.uri, retry_after=30, clock=lambda: now[0])
            with self.assertLogs("service", level="WARNING"):
                self.assertEqual(metadata.get(), {"availability_zone": None, "task_id": None})
            metadata.get()
            self.assertEqual(server.hits, 1)
            now[0] += 30
            with self.assertLogs("service", level="WARNING"):
                metadata.get()
            self.assertEqual(server.hits, 2)

    def test_document_that_is_not_an_object_is_a_failure(self):
        with MetadataEndpoint(["x"]) as server:
            with self.assertLogs("service", level="WARNING") as logs:
                got = service.TaskMetadata(server.uri).get()
        self.assertEqual(got, {"availability_zone": None, "task_id": None})
        self.assertIn("not a JSON object", logs.records[0].fields["error"])

    def test_document_without_the_fields_gives_unknown_values(self):
        with MetadataEndpoint({"Cluster": "main"}) as server:
            got = service.TaskMetadata(server.uri).get()
        self.assertEqual(got, {"availability_zone": None, "task_id": None})

    def test_without_endpoint_makes_no_request(self):
        self.assertEqual(service.TaskMetadata(None).get(), {"availability_zone": None, "task_id": None})


class ShutdownTest(unittest.TestCase):
    def test_after_shutdown_begins(self):
        app = new_app()
        app.begin_shutdown()
        cases = [
            ("readiness fails", "/readyz", 503, {"status": "shutting down"}),
            ("liveness holds", "/healthz", 200, {"status": "ok"}),
            ("new work is refused", "/", 503, {"error": "shutting down"}),
            ("unknown paths are refused too", "/nope", 503, {"error": "shutting down"}),
        ]
        for name, path, want_status, want_body in cases:
            with self.subTest(name):
                status, _, body = call(app, path)
                self.assertEqual(status, want_status)
                self.assertEqual(json.loads(body), want_body)

    def test_wait_idle_waits_for_requests_in_progress(self):
        app = new_app()
        started, release = threading.Event(), threading.Event()

        def blocking(environ):
            started.set()
            release.wait(10)
            return HTTPStatus.OK, {"done": True}

        app.routes["/block"] = blocking
        results = []
        worker = threading.Thread(target=lambda: results.append(call(app, "/block")))
        worker.start()
        self.assertTrue(started.wait(10))

        app.begin_shutdown()
        self.assertFalse(app.wait_idle(timeout=0.05), "a request is still in progress")
        self.assertEqual(call(app, "/")[0], 503)

        release.set()
        self.assertTrue(app.wait_idle(timeout=10))
        worker.join(10)
        self.assertEqual(results[0][0], 200)
        self.assertEqual(json.loads(results[0][2]), {"done": True})

    def test_wait_idle_returns_at_once_when_idle(self):
        app = new_app()
        call(app, "/")
        self.assertTrue(app.wait_idle(timeout=0))


class LoggingTest(unittest.TestCase):
    def test_each_request_is_one_json_line(self):
        app = new_app()
        with self.assertLogs("service", level="INFO") as logs:
            call(app, "/nope", headers={"X-Request-ID": "req-1", "X-Real-IP": "198.51.100.7"})
        self.assertEqual(len(logs.records), 1)
        line = service.JsonFormatter().format(logs.records[0])
        self.assertNotIn("\n", line)
        entry = json.loads(line)
        self.assertEqual(entry["message"], "request")
        self.assertEqual(entry["level"], "info")
        self.assertEqual(entry["method"], "GET")
        self.assertEqual(entry["path"], "/nope")
        self.assertEqual(entry["status"], 404)
        self.assertEqual(entry["request_id"], "req-1")
        self.assertEqual(entry["client_ip"], "198.51.100.7")
        self.assertGreaterEqual(entry["duration_ms"], 0)
        self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_passing_probes_are_not_logged_at_info(self):
        app = new_app()
        with self.assertNoLogs("service", level="INFO"):
            call(app, "/healthz")
            call(app, "/readyz")

    def test_failing_readiness_is_logged(self):
        app = new_app()
        app.begin_shutdown()
        with self.assertLogs("service", level="INFO") as logs:
            call(app, "/readyz")
        self.assertEqual(logs.records[0].fields["status"], 503)

    def test_formatter_keeps_fields_and_exceptions(self):
        try:
            raise ValueError("bad value")
        except ValueError:
            record = logging.getLogger("service").makeRecord(
                "service", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info(),
                extra={"fields": {"path": "/a\nb"}},
            )
        line = service.JsonFormatter().format(record)
        self.assertNotIn("\n", line)
        entry = json.loads(line)
        self.assertEqual(entry["message"], "failed x")
        self.assertEqual(entry["level"], "error")
        self.assertEqual(entry["path"], "/a\nb")
        self.assertIn("ValueError: bad value", entry["exception"])


class HealthcheckScriptTest(unittest.TestCase):
    def setUp(self):
        self.app = new_app()

        class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
            def log_message(self, *args):
                pass

        self.server = wsgiref.simple_server.make_server("127.0.0.1", 0, self.app, handler_class=QuietHandler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_exit_status(self):
        with wsgiref.simple_server.make_server("127.0.0.1", 0, self.app) as closed:
            closed_url = f"http://127.0.0.1:{closed.server_port}/healthz"
        cases = [
            ("healthy", f"{self.base}/healthz", 0),
            ("error status", f"{self.base}/nope", 1),
            ("nothing listening", closed_url, 1),
        ]
        for name, url, want in cases:
            with self.subTest(name):
                status, stderr = self.check(url)
                self.assertEqual(status, want)
                if want:
                    self.assertIn(url, stderr)

    def test_liveness_holds_during_shutdown(self):
        self.app.begin_shutdown()
        self.assertEqual(self.check(f"{self.base}/healthz")[0], 0)
        self.assertEqual(self.check(f"{self.base}/readyz")[0], 1)

    @staticmethod
    def check(url):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            status = healthcheck.main(["healthcheck.py", url])
        return status, stderr.getvalue()


if __name__ == "__main__":
    unittest.main()
