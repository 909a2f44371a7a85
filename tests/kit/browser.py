"""Headless Chromium for the browser tests (the Prefect UI, the chat page of `crisol serve`):
Debian's chromium driven by Playwright, which never downloads a browser of its own.

Needs `apt-get install -y chromium` (/usr/bin/chromium, or $CRISOL_CHROMIUM) and Playwright's
Python package (`pip install playwright==1.65.2`); the tests skip with the reason when either is
missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CRISOL_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections out are refused here and
# slow everything down; the sandbox needs user namespaces that containers and root lack.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser() -> str | None:
    """Why no browser test can run here, or None. Cheap enough for a skipif at collection, so a
    module can skip before its expensive fixtures run."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set CRISOL_CHROMIUM)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright==1.65.2)"
    return None


@contextlib.contextmanager
def browser_page(base: str, tmp_path: Path, viewport: dict | None = None) -> Iterator:
    """A page in a fresh Chromium profile; only requests to `base` leave it. A screenshot of the
    last state lands in tmp_path/last-page.png, for the post-mortem of a failure."""
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    from playwright import sync_api

    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=viewport or {"width": 1400, "height": 1000},
        )
        context.route(
            "**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort()
        )  # fonts, banners: nothing outside the test server
        context.set_default_timeout(30_000)
        page = context.new_page()
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "last-page.png"), full_page=True)
            context.close()
