"""Real-browser tests (Playwright + Debian Chromium against a throw-away Jupyter server)."""
