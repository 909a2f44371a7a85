"""Redirects: every hop is a paced, checked request; 4 hops are followed, a 5th is refused,
a loop ends, and a hop out of scope or into a robots-disallowed path is never requested."""

from __future__ import annotations

from kit.crawl import crawl, page, robots, write_site

H, OTHER = "r.test", "elsewhere.test"


def _chain(prefix: str, hops: int, final: str) -> dict:
    steps = [f"/{prefix}{i}" for i in range(1, hops + 1)]
    targets = steps[1:] + [final]
    # Alternate absolute and relative Locations: both must resolve.
    return {
        src: {"status": 301 if i % 2 else 302, "location": f"http://{H}{dst}" if i % 2 else dst}
        for i, (src, dst) in enumerate(zip(steps, targets))
    }


def test_redirect_limits_loops_and_rechecks(tmp_path):
    redirects = {
        **_chain("four", 4, "/after-four.html"),
        **_chain("five", 5, "/after-five.html"),
        "/loop-a": {"status": 301, "location": "/loop-b"},
        "/loop-b": {"status": 301, "location": f"http://{H}/loop-a"},
        "/away": {"status": 302, "location": f"http://{OTHER}/"},
        "/sneaky": {"status": 302, "location": "/private/x.html"},
    }
    files = {
        f"{H}/robots.txt": robots(0.01, disallow=("/private/",)),
        f"{H}/index.html": page("/four1", "/five1", "/loop-a", "/away", "/sneaky"),
        f"{H}/after-four.html": page(),
        f"{H}/after-five.html": page(),
        f"{H}/private/x.html": page(),
        f"{OTHER}/index.html": page(),
    }
    site = write_site(tmp_path / "site", files, [f"http://{H}/"], redirects={H: redirects})
    run = crawl(site, tmp_path)
    paths = run.paths(H)

    assert [p for p in paths if p.startswith("/four")] == ["/four1", "/four2", "/four3", "/four4"]
    assert "/after-four.html" in paths
    assert [p for p in paths if p.startswith("/five")] == [f"/five{i}" for i in range(1, 6)]
    assert "/after-five.html" not in paths  # the 5th hop is refused
    assert paths.count("/loop-a") == 1 and paths.count("/loop-b") == 1
    assert "/private/x.html" not in paths  # a hop is checked against robots.txt
    assert run.paths(OTHER) == []  # and against the scope

    m = run.metrics
    assert m["refused"]["too_many_redirects"] == 1
    assert m["refused"]["redirect_loop"] == 1
    assert m["refused"]["robots"] == 1
    assert m["refused"]["out_of_scope"] == 1
    # queued hops: four (4), five (4 of 5), loop-a -> loop-b, sneaky (then refused by robots)
    assert m["redirects_followed"] == 4 + 4 + 1 + 1
    assert m["pages_stored"] == 2  # index and after-four


def test_redirect_to_a_page_already_seen_is_not_fetched_twice(tmp_path):
    files = {
        f"{H}/robots.txt": robots(0.01),
        f"{H}/index.html": page("/target.html", "/old"),
        f"{H}/target.html": page(),
    }
    site = write_site(
        tmp_path / "site", files, [f"http://{H}/"], redirects={H: {"/old": {"status": 301, "location": "/target.html"}}}
    )
    run = crawl(site, tmp_path)
    assert run.paths(H).count("/target.html") == 1
    assert run.metrics["redirect_to_seen"] == 1
