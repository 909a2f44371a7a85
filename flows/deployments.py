"""The deployable entry point: the pipeline flow behind a typed run form.

`prefect.yaml` (repo root) deploys `run_pipeline` as `crisol/pipeline` (the whole graph) and as
`crisol/stage-<name>` (one stage and what it needs, for every stage of dvc.yaml). The Prefect UI
renders the parameters below as a form: `profile` a drop-down, `overrides` a list of
`section.key=value` lines, `force` a switch. The work itself is `flows.pipeline.pipeline`, run as
a subflow, so DVC still decides what runs and the workspace lock (flows/workspace_lock.py) still
serialises runs.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow

from flows.pipeline import REPO_ROOT, pipeline

# "current" keeps the profile params.yaml has; the others are written into it (as --set profile=...).
Profile = Literal["current", "micro", "tiny", "small", "large"]
Source = Literal["current", "synthetic", "own"]
FLOW_NAME = "crisol"


def pipeline_overrides(
    profile: str, overrides: tuple[str, ...] | list[str], source: str = "current", own_root: str = ""
) -> list[str]:
    """The `set_params` list the pipeline flow gets: profile and source first, then the overrides."""
    chosen = [
        f"{key}={value}" for key, value in (("profile", profile), ("source", source)) if value and value != "current"
    ]
    return chosen + ([f"own.root={own_root}"] if own_root else []) + list(overrides)


@flow(name=FLOW_NAME)
def run_pipeline(
    profile: Profile = "current",
    overrides: tuple[str, ...] = (),
    force: bool = False,
    targets: tuple[str, ...] = (),
    root: str = "",
    source: Source = "current",
    own_root: str = "",
) -> list[dict[str, object]]:
    """Run crisol's DVC stage graph as Prefect tasks (DVC decides what runs or is skipped).

    Args:
        profile: The params.yaml profile to run, written into params.yaml (as `--set profile=...`
            does); `current` keeps the one it has. micro takes ~2-3 minutes on 2 CPU cores, tiny
            ~22, small and large want GPUs.
        overrides: Parameter overrides, one `section.key=value` per item (e.g. `pretrain.max_steps=500`),
            written into params.yaml before the run; unknown keys fail the run.
        force: Rerun the stages even where DVC sees no change.
        targets: Run only these stages and the stages they need; empty runs the whole graph.
        root: The DVC workspace to run in; empty means the checkout this code lives in.
        source: Where the data comes from: `synthetic` (the generated web, crawled) or `own` (your
            files under own.root: crawl/, text/, instructions/, preferences/, prompts/, eval/);
            `current` keeps params.yaml's.
        own_root: The own-data folder (own.root); empty keeps params.yaml's (default data/own).
    """
    return pipeline(
        root=root or str(REPO_ROOT),
        targets=list(targets) or None,
        force=force,
        set_params=pipeline_overrides(profile, overrides, source, own_root) or None,
    )
