"""The Prefect UI, driven in headless Chromium: open the pipeline deployment's page, start a
Custom run from its typed form, and watch the run reach Completed (then confirm it via the API).

Needs Debian's chromium (`apt-get install -y chromium`, /usr/bin/chromium or $CRISOL_CHROMIUM)
and Playwright's Python package (`pip install playwright==1.65.2`, no browser download); skips
with the reason when either is missing. Deselect with `-m "not ui"`.
"""

from __future__ import annotations

import time

import pytest

from kit.browser import browser_page
from kit.deploy import LOCAL_POOL, Worker, make_toy_repo, prefect_cli, prefect_env

pytestmark = pytest.mark.ui


@pytest.fixture
def chromium_page(prefect_server_ui, tmp_path):
    """A fresh Chromium profile; only requests to the test server leave the page."""
    with browser_page(prefect_server_ui.removesuffix("/api"), tmp_path) as page:
        yield page


def test_custom_run_from_the_deployment_page_completes(prefect_server_ui, chromium_page, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sync_api = pytest.importorskip("playwright.sync_api")

    page, base = chromium_page, prefect_server_ui.removesuffix("/api")
    env = prefect_env(prefect_server_ui, tmp_path / "prefect-home")
    toy = make_toy_repo(tmp_path / "toy")
    prefect_cli(env, "work-pool", "create", LOCAL_POOL, "--type", "process", "--overwrite")
    # The deployment's own default root is the toy workspace, so even a Quick run stays in it.
    prefect_cli(env, "deploy", "-n", "pipeline", "--params", f'{{"root": "{toy}"}}')
    with temporary_settings(updates={PREFECT_API_URL: prefect_server_ui}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("crisol/pipeline")
        assert deployment.parameters == {"root": str(toy)}

        # The deployment's page (the V2 UI, Prefect 3.9's default), Run -> Custom run.
        page.goto(f"{base}/v2/deployments/deployment/{deployment.id}")
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Custom run").click()
        # The typed form: profile a drop-down, overrides a list, force a switch, root prefilled.
        root = page.get_by_label("root (Optional)", exact=True)  # not own_root (Optional)
        assert root.input_value() == str(toy)
        profile = page.get_by_role("button", name="Select profile")
        sync_api.expect(profile).to_have_text("current")
        profile.click()
        sync_api.expect(page.get_by_role("option")).to_have_text(["current", "micro", "tiny", "small", "large"])
        page.keyboard.press("Escape")  # keep "current": the toy workspace has no profiles
        sync_api.expect(page.get_by_role("button", name="Select source")).to_have_text("current")  # or own data
        sync_api.expect(page.get_by_role("switch", name="force (Optional)")).not_to_be_checked()
        page.get_by_role("button", name="Add item").first.click()  # an item in overrides
        page.locator("textarea").first.fill("toy.n=4")  # above root's textarea
        assert root.input_value() == str(toy)
        page.get_by_role("button", name="Submit").click()
        page.get_by_text("View run").click()
        page.wait_for_url("**/runs/flow-run/**")
        flow_run_id = page.url.split("/runs/flow-run/")[1].split("?")[0]

        flow_run = client.read_flow_run(flow_run_id)
        assert flow_run.deployment_id == deployment.id
        assert flow_run.parameters["root"] == str(toy) and flow_run.parameters["overrides"] == ["toy.n=4"]

        # Only now, with the run's parameters checked, a worker to execute it.
        with Worker(env, tmp_path / "worker.log") as worker:
            # The page follows the run by itself; its header's state badge turns to Completed.
            completed = page.get_by_text("Completed", exact=True).first
            deadline = time.monotonic() + 120
            while True:
                try:
                    sync_api.expect(completed).to_be_visible(timeout=5_000)
                    break
                except AssertionError:
                    state = client.read_flow_run(flow_run_id).state
                    assert not state.is_final() or state.is_completed(), (state, worker.log_text())
                    assert time.monotonic() < deadline, f"no Completed in the UI; API: {state}\n{worker.log_text()}"
        assert client.read_flow_run(flow_run_id).state.is_completed()
    assert (toy / "b.txt").read_text() == "aaaab"
