"""The stage as a whole: `python -m stages.crawl` serves the site, crawls it, stops the server,
writes WARC atomically and metrics; bad inputs are one-line errors."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

import stages.crawl.warc as warc_module
from crisol.core.cli import StageContext
from crisol.core.errors import StageInputError
from crisol.core.params import ExecutorParams
from kit.crawl import page, robots, write_site
from kit.stages import run_stage, write_stage_params
from stages.crawl.params import CrawlParams
from stages.crawl.server import SiteServer
from stages.crawl.site import load_site
from stages.crawl.stage import crawl_site, run

H = "e.test"


def _site(tmp_path):
    files = {
        f"{H}/robots.txt": robots(0.0, sitemap=f"http://{H}/sitemap.xml"),
        f"{H}/sitemap.xml": "<urlset><url><loc>http://{H}/c.html</loc></url></urlset>".replace("{H}", H),
        f"{H}/index.html": page("/a.html", "/b.html", "http://10.0.0.1/"),
        f"{H}/a.html": page(),
        f"{H}/b.html": page(),
        f"{H}/c.html": page(),
    }
    return write_site(tmp_path / "site", files, [f"http://{H}/"])


def _params_file(tmp_path, **crawl) -> Path:
    section = {
        "site": str(tmp_path / "site"),
        "out": str(tmp_path / "warc"),
        "metrics": str(tmp_path / "metrics" / "crawl.json"),
        "min_delay_s": 0.0,
        **crawl,
    }
    return write_stage_params(tmp_path / "params.yaml", "crawl", section, profile="micro")


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "site-server" and t.is_alive()]


def test_cli_crawls_and_writes_metrics(tmp_path):
    _site(tmp_path)
    assert run_stage("crawl", _params_file(tmp_path)) == 0
    metrics = json.loads((tmp_path / "metrics" / "crawl.json").read_text())
    assert metrics["pages_stored"] == 4 and metrics["stage"] == "crawl"
    assert metrics["refused"] == {"ssrf": 1}
    assert metrics["warc_files"] == 1
    assert [p.name for p in (tmp_path / "warc").iterdir()] == ["crawl-00000.warc.gz"]
    assert not _server_threads()  # the server was stopped


def test_failure_mid_crawl_leaves_no_output_and_stops_the_server(tmp_path, monkeypatch):
    _site(tmp_path)
    (tmp_path / "warc").mkdir()
    (tmp_path / "warc" / "crawl-00000.warc.gz").write_bytes(b"previous good output")
    real_write = warc_module.WarcShardWriter.write
    calls = []

    def failing_write(self, fetched):
        calls.append(fetched)
        if len(calls) == 2:
            raise OSError("disk full")
        real_write(self, fetched)

    monkeypatch.setattr(warc_module.WarcShardWriter, "write", failing_write)
    params = CrawlParams(site=tmp_path / "site", out=tmp_path / "warc", metrics=tmp_path / "m.json", min_delay_s=0.0)
    ctx = StageContext("crawl", params, ExecutorParams(), "micro", logging.getLogger("test"))
    with pytest.raises(OSError, match="disk full"):
        run(ctx)
    # The previous output is untouched, no temporary directory is left, the server is stopped.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "warc"]
    assert (tmp_path / "warc" / "crawl-00000.warc.gz").read_bytes() == b"previous good output"
    assert not _server_threads()


def test_unusable_inputs_are_one_line_errors(tmp_path, capsys):
    assert run_stage("crawl", _params_file(tmp_path)) == 1
    assert "site.json" in capsys.readouterr().err  # no site generated yet
    assert run_stage("crawl", _params_file(tmp_path, serve=False)) == 1
    assert "no seed URLs" in capsys.readouterr().err
    assert run_stage("crawl", _params_file(tmp_path, user_agent="bot")) == 2
    assert "crawl.user_agent" in capsys.readouterr().err


def test_a_site_whose_robots_forbid_everything_is_an_input_error(tmp_path):
    files = {f"{H}/robots.txt": "User-agent: *\nDisallow: /\n", f"{H}/index.html": page()}
    write_site(tmp_path / "site", files, [f"http://{H}/"])
    params = CrawlParams(site=tmp_path / "site", out=tmp_path / "warc", metrics=tmp_path / "m.json")
    ctx = StageContext("crawl", params, ExecutorParams(), "micro", logging.getLogger("test"))
    with pytest.raises(StageInputError, match="robots"):
        run(ctx)
    assert not (tmp_path / "warc").exists()


def test_without_serving_only_allow_listed_private_hosts_are_crawled(tmp_path):
    ip = "127.0.0.1"
    files = {f"{ip}/robots.txt": robots(0.0), f"{ip}/index.html": page("/a.html"), f"{ip}/a.html": page()}
    site = write_site(tmp_path / "site", files, [])
    with SiteServer(load_site(site)) as server:
        seed = f"http://{ip}:{server.port}/"
        base = dict(
            site=site, out=tmp_path / "warc", metrics=tmp_path / "m.json", min_delay_s=0.0, serve=False, seeds=[seed]
        )
        with pytest.raises(StageInputError, match="ssrf"):  # default: no private address at all
            crawl_site(CrawlParams(**base), logging.getLogger("test"), None)
        assert server.requests == []
        with pytest.raises(StageInputError, match="ssrf"):  # an entry without a port allows port 80 only
            crawl_site(CrawlParams(**base, ssrf_allow_hosts=[ip]), logging.getLogger("test"), None)
        assert server.requests == []
        allowed = f"{ip}:{server.port}"
        metrics = crawl_site(CrawlParams(**base, ssrf_allow_hosts=[allowed]), logging.getLogger("test"), None)
        assert [r.path for r in server.requests] == ["/robots.txt", "/", "/a.html"]
    assert metrics["pages_stored"] == 2
