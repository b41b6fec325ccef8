"""Checks that the files shipped in the two images agree with each other:
gunicorn's settings, nginx.conf, the Dockerfiles and the pinned requirements.
The Go side (internal/workload) checks the task definition against the same files.
"""

import logging
import re
import unittest

from service import app as service
from service.tests.harness import NGINX_CONF, REPO_ROOT, SERVICE_DIR, gunicorn_settings

NGINX_TEXT = NGINX_CONF.read_text()


def nginx_seconds(pattern):
    """The value in seconds of the one directive matching pattern (which captures N in 'Ns')."""
    found = re.findall(pattern, NGINX_TEXT)
    if len(found) != 1:
        raise AssertionError(f"expected one match of {pattern!r} in nginx.conf, found {found}")
    return int(found[0])


def dockerfile(path):
    """The instructions of a Dockerfile as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


class GunicornSettingsTest(unittest.TestCase):
    def test_timeouts_fit_around_nginx(self):
        settings = gunicorn_settings()
        proxy_read = nginx_seconds(r"\n\s*proxy_read_timeout (\d+)s;")
        upstream_keepalive = nginx_seconds(r"upstream app \{[^}]*keepalive_timeout (\d+)s;")
        self.assertLess(proxy_read, settings["graceful_timeout"], "a proxied request must be able to finish within the drain")
        self.assertGreater(settings["keepalive"], upstream_keepalive, "nginx must close idle upstream connections first")

    def test_bind(self):
        cases = [
            ("default", {}, ["0.0.0.0:8000"]),
            ("from BIND", {"BIND": "127.0.0.1:8000"}, ["127.0.0.1:8000"]),
        ]
        for name, environ, want in cases:
            with self.subTest(name):
                self.assertEqual(gunicorn_settings(environ)["bind"], want)

    def test_workers_can_answer_probes_while_busy(self):
        settings = gunicorn_settings()
        self.assertEqual(settings["worker_class"], "gthread")
        self.assertGreaterEqual(settings["threads"], 2)

    def test_logs_use_the_apps_json_formatter(self):
        settings = gunicorn_settings()
        self.assertIsNone(settings["accesslog"], "the app logs requests itself")
        factory = settings["logconfig_dict"]["formatters"]["json"]["()"]
        module, _, name = factory.rpartition(".")
        self.assertEqual(module, "app")
        self.assertTrue(issubclass(getattr(service, name), logging.Formatter))


class NginxConfTest(unittest.TestCase):
    def test_probes_are_proxied_without_access_log(self):
        for path in (service.HEALTH_PATH, service.READY_PATH):
            with self.subTest(path):
                block = re.search(r"location = " + re.escape(path) + r" \{([^}]*)\}", NGINX_TEXT)
                self.assertIsNotNone(block, f"no exact location for {path}")
                self.assertIn("access_log off;", block.group(1))
                self.assertIn("proxy_pass http://app;", block.group(1))

    def test_hardening(self):
        for directive in (
            "server_tokens off;",
            "client_max_body_size 1m;",
            "real_ip_header X-Forwarded-For;",
            "include /tmp/real-ip.conf;",
        ):
            with self.subTest(directive):
                self.assertIn(directive, NGINX_TEXT)
        self.assertNotRegex(NGINX_TEXT, r"\n\s*user\s", "the image runs nginx unprivileged")


class RequirementsTest(unittest.TestCase):
    def test_every_requirement_is_pinned_with_a_hash(self):
        text = re.sub(r"\\\n", " ", (SERVICE_DIR / "requirements.txt").read_text())
        requirements = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        names = set()
        for line in requirements:
            with self.subTest(line.split()[0]):
                self.assertRegex(line, r"^[A-Za-z0-9_.-]+==\d+(\.\d+)+\s")
                self.assertRegex(line, r"--hash=sha256:[0-9a-f]{64}")
                names.add(line.split("==")[0].lower())
        self.assertIn("gunicorn", names)


class DockerfileTest(unittest.TestCase):
    def check_common(self, instructions):
        froms = [args for keyword, args in instructions if keyword == "FROM"]
        for image in froms:
            with self.subTest(image=image):
                self.assertRegex(image.split()[0], r":\d+\.\d+\.\d+", "base images are pinned to a version")
        users = [args for keyword, args in instructions if keyword == "USER"]
        self.assertTrue(users, "USER is set")
        self.assertRegex(users[-1], r"^[1-9]\d*:[1-9]\d*$", "the final user is numeric and not root")
        self.assertTrue(any(keyword == "HEALTHCHECK" for keyword, _ in instructions))

    def test_service_image(self):
        instructions = dockerfile(SERVICE_DIR / "Dockerfile")
        self.check_common(instructions)
        images = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
        self.assertGreaterEqual(len(images), 2, "multi-stage")
        self.assertEqual(len(set(images)), 1, "the virtualenv is copied between stages: same interpreter")
        copied = " ".join(args for keyword, args in instructions if keyword == "COPY")
        for name in ("requirements.txt", "app.py", "gunicorn.conf.py", "healthcheck.py"):
            self.assertIn(name, copied)
        healthcheck = dict(instructions)["HEALTHCHECK"]
        self.assertIn("healthcheck.py", healthcheck)
        self.assertIn(service.HEALTH_PATH, healthcheck)
        runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
        self.assertIn("--require-hashes", runs)
        self.assertIn("app:application", dict(instructions)["CMD"])

    def test_nginx_image(self):
        instructions = dockerfile(REPO_ROOT / "nginx" / "Dockerfile")
        self.check_common(instructions)
        self.assertTrue(dict(instructions)["FROM"].startswith("nginxinc/nginx-unprivileged:"))
        self.assertIn("/etc/nginx/nginx.conf", " ".join(args for keyword, args in instructions if keyword == "COPY"))
        self.assertEqual(dict(instructions)["STOPSIGNAL"], "SIGQUIT", "SIGQUIT is nginx's graceful stop")


if __name__ == "__main__":
    unittest.main()
