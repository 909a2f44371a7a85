"""Output-path guards (crisol/core/output_guards.py), driven through real stages' command lines: an
output never replaces a directory the stage did not make, never leaves the workspace unless a root is
allowed, never equals or sits inside an input. Each refusal is one line and exit 2, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.dedup import write_params
from kit.documents import document, write_documents
from kit.stages import params_model, run_stage

STAGES = ("web", "crawl", "ingest", "dedup", "tokenizer", "pretrain", "sft", "reward", "ppo", "evaluate", "scaling")
DOCS = [document(f"d{i}", " ".join(f"w{i}x{j}" for j in range(60))) for i in range(6)]


def dedup_workspace(root: Path) -> tuple[Path, Path]:
    """A params file for dedup under `root` (outputs in root/out) and its input documents."""
    input_dir = write_documents(root / "in", DOCS)
    return write_params(root, input_dir), input_dir


def refused(capsys, params: Path, *overrides: str) -> str:
    """Run dedup with `overrides`: it must stop with exit 2 and one line, writing no metrics."""
    assert run_stage("dedup", params, *overrides) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert not (params.parent / "out" / "metrics.json").exists()  # stopped before any work
    return err


def test_an_existing_directory_with_a_user_file_is_refused_and_the_file_survives(tmp_path, capsys):
    params, _ = dedup_workspace(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    err = refused(capsys, params, f"dedup.documents={mine}")
    assert "dedup.documents" in err and "not made by stage dedup" in err
    assert (mine / "notes.txt").read_text() == "keep me\n"


def test_a_single_file_output_never_replaces_a_directory(tmp_path, capsys):
    params, _ = dedup_workspace(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    assert "is a directory" in refused(capsys, params, f"dedup.clusters={folder}")
    assert (folder / "keep.txt").exists()


@pytest.mark.parametrize("where", ["../etc", "absolute"])
def test_outputs_outside_the_workspace_are_refused(tmp_path, capsys, monkeypatch, where):
    params, _ = dedup_workspace(tmp_path / "ws")
    monkeypatch.chdir(tmp_path / "ws")  # the stage runs in its workspace: `../etc` leaves it
    target = str(tmp_path / "elsewhere") if where == "absolute" else where
    assert "outside the workspace" in refused(capsys, params, f"dedup.documents={target}")
    assert not (tmp_path / "ws" / target).exists()


def test_an_allowed_outside_root_is_accepted(tmp_path):
    params, _ = dedup_workspace(tmp_path / "ws")
    outside = tmp_path / "scratch"
    text = params.read_text() + f"outputs:\n  allow_roots: ['{outside}']\n"
    params.write_text(text)
    assert run_stage("dedup", params, f"dedup.documents={outside / 'documents'}") == 0
    assert any((outside / "documents").glob("*.parquet"))


def test_the_workspace_itself_is_not_an_output(tmp_path, capsys):
    params, _ = dedup_workspace(tmp_path)
    assert "the workspace itself" in refused(capsys, params, f"dedup.documents={tmp_path}")
    assert (tmp_path / "in").is_dir()


def test_an_output_equal_to_the_input_is_refused_and_the_input_survives(tmp_path, capsys):
    params, input_dir = dedup_workspace(tmp_path)
    before = sorted(p.name for p in input_dir.iterdir())
    assert "is the input dedup.input" in refused(capsys, params, f"dedup.documents={input_dir}")
    assert sorted(p.name for p in input_dir.iterdir()) == before


@pytest.mark.parametrize("field", ["documents", "clusters"])
def test_an_output_inside_an_input_is_refused(tmp_path, capsys, field):
    params, input_dir = dedup_workspace(tmp_path)
    assert "inside the input dedup.input" in refused(capsys, params, f"dedup.{field}={input_dir / 'sub'}")
    assert not (input_dir / "sub").exists()


def test_an_input_inside_an_output_is_refused(tmp_path, capsys):
    params, _ = dedup_workspace(tmp_path)
    box = tmp_path / "box"
    inner = write_documents(box / "in", DOCS)
    err = refused(capsys, params, f"dedup.input={inner}", f"dedup.documents={box}")
    assert "holds the input dedup.input" in err
    assert any(inner.glob("*.parquet"))


def test_two_outputs_of_one_stage_never_overlap(tmp_path, capsys):
    params, _ = dedup_workspace(tmp_path)
    out = tmp_path / "out"
    assert "dedup.samples" in refused(capsys, params, f"dedup.samples={out / 'documents' / 's.json'}")


def test_a_rerun_over_the_stage_s_own_previous_output_works(tmp_path):
    params, _ = dedup_workspace(tmp_path)
    assert run_stage("dedup", params) == 0
    first = sorted(p.name for p in (tmp_path / "out" / "documents").iterdir())
    assert run_stage("dedup", params) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "documents").iterdir()) == first


def test_another_stage_s_output_is_refused(tmp_path, capsys):
    params, _ = dedup_workspace(tmp_path)
    theirs = tmp_path / "theirs"
    write_documents(theirs, DOCS)
    (tmp_path / ".theirs.crisol-owner").write_text("ingest.documents\n")
    assert "made by stage ingest" in refused(capsys, params, f"dedup.documents={theirs}")
    assert any(theirs.glob("*.parquet"))


def test_outputs_made_before_the_guards_are_accepted_at_their_default_paths_and_when_empty(tmp_path, monkeypatch):
    """Migration: no marker, but at the stage's own default path (where dvc.yaml puts it), or empty."""
    monkeypatch.chdir(tmp_path)
    params, _ = dedup_workspace(tmp_path)
    defaults = ("documents=data/dedup/documents", "clusters=data/dedup/clusters.parquet", "metrics=m.json")
    old = write_documents(tmp_path / "data" / "dedup" / "documents", DOCS[:1])
    assert run_stage("dedup", params, *(f"dedup.{d}" for d in defaults)) == 0
    assert len(list(old.glob("*.parquet"))) >= 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_stage("dedup", params, f"dedup.documents={empty}") == 0


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_declares_each_path_it_reads_or_writes(stage):
    from crisol.core.path_roles import declared_paths, undeclared_path_fields

    model = params_model(stage)
    assert undeclared_path_fields(model) == []
    roles = {role for _, role, _ in declared_paths(model())}
    assert "output_file" in {r.value for r in roles}  # its metrics at least


def test_a_work_directory_is_kept_unless_another_stage_made_it(tmp_path, monkeypatch):
    """pretrain.checkpoint_dir is written into, never replaced: an existing one is accepted (resumed
    checkpoints), one that another stage's marker names is not."""
    from crisol.core.errors import ParamsError
    from crisol.core.output_guards import guard_outputs
    from crisol.core.source import DataSource

    monkeypatch.chdir(tmp_path)  # the defaults' relative paths land here
    work = tmp_path / "work"
    (work / "tiny" / "step-000010").mkdir(parents=True)
    pretrain = params_model("pretrain")(checkpoint_dir=work)
    guard_outputs("pretrain", pretrain, [tmp_path], DataSource())
    assert (tmp_path / ".work.crisol-owner").read_text() == "pretrain.checkpoint_dir\n"
    (tmp_path / ".work.crisol-owner").write_text("scaling.runs_dir\n")
    with pytest.raises(ParamsError, match="made by stage scaling"):
        guard_outputs("pretrain", pretrain, [tmp_path], DataSource())
    assert (work / "tiny" / "step-000010").is_dir()
