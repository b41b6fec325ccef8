"""gunicorn settings for the service container.

Three timeouts here are tied to settings elsewhere, and tests check each pair:
- graceful_timeout is the drain budget after SIGTERM. The task definition's
  stopTimeout (internal/workload) is a few seconds longer, so that gunicorn
  exits by itself before ECS sends SIGKILL.
- nginx's proxy_read_timeout is shorter than graceful_timeout, so that any
  request nginx is still waiting for can finish within the drain.
- keepalive is longer than nginx's upstream keepalive_timeout, so that nginx,
  not gunicorn, closes idle connections: nginx then never sends a request on
  a connection that gunicorn is closing.
"""

import os
import signal
import threading

bind = [os.environ.get("BIND", "0.0.0.0:8000")]

# Threads let a worker answer /readyz while other threads serve slow requests.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

graceful_timeout = 25
keepalive = 75

# The app writes one JSON line per request; gunicorn's own messages use the
# same formatter, so that everything on stdout is JSON.
accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "app.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        "service": {
            "level": os.environ.get("LOG_LEVEL", "INFO").upper(),
            "handlers": [],
            "propagate": True,
        },
    },
}


def post_worker_init(worker):
    """Replaces the worker's SIGTERM handler with a drain.

    gunicorn's own handler stops the worker's accept loop at once, so a
    request arriving after SIGTERM is reset or refused, and a readiness probe
    never sees a 503. Instead, the app starts failing /readyz and refusing
    new work with a 503 immediately, the worker keeps answering until the
    requests in progress have finished, and only then stops. The master
    still kills the worker at graceful_timeout.
    """
    app = worker.wsgi
    wake_read, wake_write = os.pipe()
    threading.Thread(target=_drain, args=(worker, app, wake_read), name="drain", daemon=True).start()

    def on_sigterm(signum, frame):
        # This runs between two bytecodes of the main thread, which may hold
        # any lock at that moment (starting a pool thread takes one), so it
        # takes none: it sets a flag and writes to a pipe.
        app.begin_shutdown()
        os.write(wake_write, b"\0")

    signal.signal(signal.SIGTERM, on_sigterm)


def _drain(worker, app, wake_read):
    os.read(wake_read, 1)
    app.wait_idle()
    worker.log.info("worker drained, exiting")
    worker.alive = False
