"""Tests of the service and its nginx sidecar, and the harness that runs them."""
