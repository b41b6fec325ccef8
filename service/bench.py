"""Benchmark of the request path: wrk through nginx to the app, on loopback.

Starts Debian's gunicorn with service/gunicorn.conf.py and the production
app, and Debian's nginx with nginx/nginx.conf, on ephemeral 127.0.0.1
ports; runs wrk against nginx; and reports requests per second, the p99
latency and the number of non-2xx responses (which should be 0). It asserts
nothing: the numbers are for the record.

Run from the repository root: python3 -m service.bench [--duration 10]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from service.tests.harness import Gunicorn, Nginx, require_tool

LATENCY_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> dict:
    """Extracts the summary numbers from wrk --latency output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    total = re.search(r"^\s*(\d+) requests in", output, re.M)
    if not (rps and p99 and total):
        raise ValueError(f"unrecognised wrk output:\n{output}")
    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", output, re.M)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests": int(total.group(1)),
        "requests_per_second": float(rps.group(1)),
        "p99_ms": round(float(p99.group(1)) * LATENCY_UNITS_MS[p99.group(2)], 3),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def main(argv: list[str]) -> int:
    """Runs the benchmark and prints wrk's report, a summary and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--path", default="/", help="request path (default /)")
    args = parser.parse_args(argv)

    wrk = require_tool("wrk")
    with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
        workdir = Path(tmp)
        gunicorn = Gunicorn(workdir, env={"APP_VERSION": "bench"})
        nginx = None
        try:
            gunicorn.start()
            nginx = Nginx(workdir, gunicorn.port).start()
            url = f"http://127.0.0.1:{nginx.port}{args.path}"
            result = subprocess.run(
                [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency", url],
                capture_output=True, text=True, timeout=args.duration + 60,
            )
        finally:
            if nginx:
                nginx.stop()
            gunicorn.stop()
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return result.returncode

    summary = parse_wrk(result.stdout)
    summary.update(url_path=args.path, duration_s=args.duration, connections=args.connections)
    print(
        f"\nservice benchmark: {summary['requests_per_second']:.0f} req/s, "
        f"p99 {summary['p99_ms']:.2f} ms, non-2xx {summary['non_2xx']}, "
        f"socket errors {summary['socket_errors']}"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
