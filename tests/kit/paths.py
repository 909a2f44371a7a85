"""Where the tests find the checkout and the shared test data, whatever folder a test sits in."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"  # the shared test data, cloned beside the repo
