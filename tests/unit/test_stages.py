"""The stage graph: declared once (``tfident.pipeline.NODES``), well formed, its frames as declared."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tfident import pipeline
from tfident.pipeline import (
    CHECKPOINTED_STAGES,
    NODES,
    STAGES,
    Stage,
    frame_schema,
    load_run_config,
    run_graph,
    run_inputs,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config() -> pipeline.RunConfig:
    """The default configuration with the phase 1 pack."""
    return load_run_config("phase1")


@pytest.fixture(scope="module")
def graph_run(sample_batch: Path, as_of: date, config: pipeline.RunConfig) -> dict[str, dict[str, Any]]:
    """What each stage returned on the sample batch, by stage and output name."""
    outputs: dict[str, dict[str, Any]] = {}

    def recording(stage: Stage, args: tuple[Any, ...]) -> Any:
        result = stage.func(*args)
        values = result if len(stage.outputs) > 1 else (result,)
        outputs[stage.name] = dict(zip(stage.outputs, values, strict=True))
        return result

    run_graph(run_inputs(sample_batch, as_of, config), execute=recording)
    return outputs


def test_every_input_is_a_run_input_or_an_earlier_output(sample_batch: Path, as_of: date) -> None:
    """It declares each value once: every stage input is a run input or an earlier stage's output, and no output
    is made twice or shadows a run input.
    """
    known = set(run_inputs(sample_batch, as_of, load_run_config("phase1")))
    for stage in NODES:
        missing = [name for name in stage.inputs if name not in known]
        assert not missing, f"stage {stage.name} takes {missing}, which nothing before it makes"
        assert not known & set(stage.outputs), f"stage {stage.name} makes a value already made"
        known |= set(stage.outputs)
    assert tuple(stage.name for stage in NODES) == STAGES
    assert len(set(STAGES)) == len(STAGES)
    assert STAGES[:2] == ("ingest", "checks")
    assert set(CHECKPOINTED_STAGES) == set(STAGES) - {"ingest", "checks"}


def test_every_stage_output_frame_matches_its_declared_schema(
    graph_run: dict[str, dict[str, Any]], config: pipeline.RunConfig
) -> None:
    """It checks each frame every stage returned against the schema its stage package declares: the same
    columns, in the same order, of the same types; a frame without a declared schema fails.
    """
    frames = 0
    for stage in NODES:
        if stage.only_with is not None:
            continue  # the data checks did not run (no checks config): they return a report, not a frame
        for name, value in graph_run[stage.name].items():
            if not isinstance(value, pl.DataFrame):
                continue
            frames += 1
            expected = frame_schema(name, config)
            assert list(value.schema.items()) == list(expected.items()), f"{stage.name} -> {name}"
    assert frames == sum(len(stage.outputs) for stage in NODES if stage.checkpointed)


def test_a_frame_with_a_wrong_column_type_does_not_match(graph_run: dict[str, dict[str, Any]]) -> None:
    """The schema comparison above can fail: a candidates frame with ``rank`` as a float does not match."""
    candidates = graph_run["rank"]["candidates"].with_columns(pl.col("rank").cast(pl.Float64))
    assert list(candidates.schema.items()) != list(pipeline.FRAME_SCHEMAS["candidates"].items())


class MemoryCheckpoints:
    """Checkpoints kept in a dict, as :class:`tfident.checkpoints.StageCheckpoints` keeps them on disk."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, pl.DataFrame]] = {}
        self.loaded: list[str] = []

    def load(self, stage: str) -> Mapping[str, pl.DataFrame] | None:
        if stage in self.saved:
            self.loaded.append(stage)
            return self.saved[stage]
        return None

    def save(self, stage: str, frames: Mapping[str, pl.DataFrame]) -> None:
        self.saved[stage] = dict(frames)


def test_a_run_resumed_from_checkpoints_equals_an_uninterrupted_one(
    sample_batch: Path, as_of: date, config: pipeline.RunConfig
) -> None:
    """It stops a run in the criteria stage, then resumes it: the stages before are restored (not run again)
    and every frame equals the uninterrupted run's.
    """
    values = run_inputs(sample_batch, as_of, config)
    uninterrupted = run_graph(values)
    checkpoints = MemoryCheckpoints()
    ran: list[str] = []

    def failing_in_criteria(stage: Stage, args: tuple[Any, ...]) -> Any:
        ran.append(stage.name)
        if stage.name == "criteria":
            raise RuntimeError("the file share went away")
        return stage.func(*args)

    with pytest.raises(RuntimeError):
        run_graph(values, execute=failing_in_criteria, checkpoints=checkpoints)
    assert list(checkpoints.saved) == ["standardise", "link", "households", "identity"]

    ran.clear()
    resumed = run_graph(
        values, execute=lambda stage, args: ran.append(stage.name) or stage.func(*args), checkpoints=checkpoints
    )
    assert ran == ["ingest", "criteria", "rank"]
    assert checkpoints.loaded == ["standardise", "link", "households", "identity"]
    for name in ("records", "links", "persons", "households", "identity_events", "evidence", "candidates"):
        assert_frame_equal(resumed[name], uninterrupted[name])


def test_the_start_hook_runs_once_before_the_first_checkpointed_stage(
    sample_batch: Path, as_of: date, config: pipeline.RunConfig
) -> None:
    """It calls the start hook after ingest (and checks) with the batch read, and StopRun ends the run there."""
    seen: list[tuple[str, ...]] = []

    def start(values: Mapping[str, Any], timings: Mapping[str, float]) -> None:
        seen.append(tuple(timings))
        assert values["batch"] is not None
        raise pipeline.StopRun

    assert pipeline.execute_pipeline(run_inputs(sample_batch, as_of, config), start=start) is None
    assert seen == [("ingest",)]


def test_the_architecture_doc_opens_with_the_declared_stages_in_order() -> None:
    """docs/architecture.md starts with the stage list as ``NODES`` declares it: name, inputs and outputs."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    head = text.split("\n## ")[1]  # the first section after the title
    assert head.startswith("The stages, as the code declares them")
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| `(\w+)` \| (.*?) \| (.*?) \|", head, flags=re.MULTILINE)
    assert [(int(n), name) for n, name, *_ in rows] == [(i + 1, stage.name) for i, stage in enumerate(NODES)]
    for (_, _, func, inputs, outputs), stage in zip(rows, NODES, strict=True):
        assert func == stage.func.__name__
        assert re.findall(r"`([^`]+)`", inputs) == list(stage.inputs), stage.name
        assert re.findall(r"`([^`]+)`", outputs) == list(stage.outputs), stage.name
