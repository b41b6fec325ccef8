"""The web service that the stack runs: see app.py."""
