"""Read the stage graph from dvc.yaml through DVC's own API, in dependency order.

`Repo.index.graph` has an edge from each stage to the stages it depends on; running order is the
reverse topological order, ties broken by name so the order is stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StageInfo:
    name: str  # as in dvc.yaml (foreach/matrix stages expand to "name@key")
    cmd: str
    metrics: tuple[str, ...]  # metrics files the stage writes, relative to the repo root
    outs: tuple[str, ...] = ()  # its cached outputs (files or directories), relative to the repo root
    dvcfile: str = "dvc.yaml"  # the pipeline file that defines it, relative to the repo root


def stage_order(root: Path | str, targets: list[str] | None = None) -> list[StageInfo]:
    """Stages of `root/dvc.yaml` in running order; with targets, only those and their upstream,
    which may come from any pipeline file of the repo (stages/scaling/dvc.yaml: the sweep runs
    only when named, as `dvc repro` without targets runs the root dvc.yaml only)."""
    import networkx as nx
    from dvc.repo import Repo

    root = Path(root).resolve()
    with Repo(str(root)) as repo:
        graph = repo.index.graph
        by_name = {stage.addressing.split(":")[-1]: stage for stage in graph.nodes if hasattr(stage, "cmd")}
        if targets:
            unknown = sorted(set(targets) - set(by_name))
            if unknown:
                raise ValueError(f"unknown stage(s) {unknown}; dvc.yaml has {sorted(by_name)}")
            wanted = set()
            for name in targets:
                wanted |= nx.descendants(graph, by_name[name]) | {by_name[name]}
            graph = graph.subgraph(wanted)
        else:
            graph = graph.subgraph([s for s in graph.nodes if Path(s.dvcfile.path) == root / "dvc.yaml"])
        order = nx.lexicographical_topological_sort(graph.reverse(copy=False), key=lambda s: s.addressing)
        return [
            StageInfo(
                name=stage.addressing.split(":")[-1],
                cmd=str(stage.cmd),
                metrics=tuple(str(Path(o.fs_path).relative_to(root)) for o in stage.outs if o.metric),
                outs=tuple(str(Path(o.fs_path).relative_to(root)) for o in stage.outs if not o.metric and not o.plot),
                dvcfile=str(Path(stage.dvcfile.path).relative_to(root)),
            )
            for stage in order
            if stage in by_name.values()
        ]


def stage_outputs(root: Path | str) -> list[Path]:
    """Every output (outs, metrics, plots) of every stage in the repo's pipeline files."""
    from dvc.repo import Repo

    with Repo(str(Path(root).resolve())) as repo:
        return sorted({Path(out.fs_path) for stage in repo.index.stages for out in stage.outs})
