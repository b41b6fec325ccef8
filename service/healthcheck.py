"""Container health check: exit 0 when the liveness URL answers 200, else 1.

The slim Python image has no curl; this is what the Dockerfile HEALTHCHECK
and the ECS container health check run.

Usage: python3 healthcheck.py [URL]
"""

import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def main(argv: list[str]) -> int:
    """Checks the URL in argv[1] (or DEFAULT_URL) and returns the exit status."""
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    # Loopback only: a proxy from the environment must not be used.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=3) as resp:
            if resp.status == 200:
                return 0
            print(f"health check: {url} answered {resp.status}", file=sys.stderr)
    except OSError as exc:
        print(f"health check: {url}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
