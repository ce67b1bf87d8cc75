"""`molgfn score` (a file of objects through a task's oracle) and `molgfn scores` (a score store's export)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .base import console
from .common import _configure_oracle, _emit, _oracle_settings, _output_path, _task
from .errors import friendly
from .options import (
    AlphabetOpt,
    ChunkSizeOpt,
    DataDirOpt,
    ExecutorOpt,
    ExpOpt,
    ForceOpt,
    LengthOpt,
    OnOracleError,
    OnOracleErrorOpt,
    OracleOpt,
    OracleRetriesOpt,
    OracleTimeoutOpt,
    RayAddressOpt,
    ReuseScoresOpt,
    ScoreStoreOpt,
    ScoringOpt,
    TaskOptionOpt,
    WorkersOpt,
    help_panels,
)


@friendly
@help_panels
def score(
    task: Annotated[str | None, typer.Option("--task", "-t", help="Task name (see `molgfn tasks`); with --scoring: "
                                             "custom-frag.")] = None,
    input: Annotated[Path, typer.Option("--input", "-i", help="File: one object per line, or a CSV.")] = ...,
    column: Annotated[str | None, typer.Option(help="CSV column holding the objects (default: the task's "
                                               "object column, else the first).")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Output file (.csv, .sdf or .parquet), or - for CSV on "
                                        "stdout.")] = "-",
    data_dir: DataDirOpt = None,
    oracle: OracleOpt = None,
    scoring: ScoringOpt = None,
    alphabet: AlphabetOpt = "ACGT",
    length: LengthOpt = 8,
    reward_exponent: ExpOpt = 1.0,
    workers: WorkersOpt = None,
    task_option: TaskOptionOpt = None,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    chunk_size: ChunkSizeOpt = None,
    oracle_timeout: OracleTimeoutOpt = 600.0,
    oracle_retries: OracleRetriesOpt = 0,
    on_oracle_error: OnOracleErrorOpt = OnOracleError.stop,
    score_store: ScoreStoreOpt = None,
    stale_scores_ok: ReuseScoresOpt = False,
    force: ForceOpt = False,
) -> None:
    """Score the objects in a file with the task's oracle: CSV of object, raw_score, reward."""

    from molgfn import assets
    from molgfn.scoring_task import score_task_name

    task = score_task_name(task, scoring)  # --scoring alone scores with custom-frag
    output = _output_path(output, force, inputs=[input])
    assets.set_data_dir(data_dir)
    settings = _oracle_settings(executor, workers, ray_address, chunk_size, oracle_timeout, oracle_retries,
                                on_oracle_error, score_store, stale_scores_ok)
    _, _, t = _task(task, oracle, alphabet, length, reward_exponent, workers, task_option=task_option,
                    scoring=scoring)
    try:
        _configure_oracle(t, settings, executor is not None or score_store is not None)
        objs, row_offset = _read_objects(input, column, t.object_column)
        df = _score_rows(t, objs, row_offset)
    finally:
        t.close()
    _emit(df, output, task=t)


def _read_objects(input: Path, column: str | None, default_column: str) -> tuple[list[str], int]:
    """Objects of a --input file (one per line, or a CSV column) and the file row of the first one."""
    from molgfn.errors import InputError
    from molgfn.inputs import read_objects

    objs, row_offset = read_objects(input, column, default_column)
    if not objs:
        raise InputError(f"{input} holds no objects")
    return objs, row_offset


def _score_rows(t, objs: list[str], row_offset: int):
    """Score the valid objects; an invalid row is kept, unscored, with valid=False and the reason in
    ``error`` (those two columns appear only when some row is invalid)."""
    import pandas as pd
    import torch

    from molgfn.errors import InputError

    if hasattr(t, "score_table"):  # fragment tasks: molecules given as SMILES
        from molgfn.limits import smiles_errors

        errors = smiles_errors(objs)  # unparsable, or more atoms than molgfn scores (molgfn.limits.MAX_ATOMS)
        col = "input"
    else:
        env = t.env
        errors = ["" if len(o) == env.length and all(c in env.alphabet for c in o)
                  else f"not {env.length} letters of {env.alphabet}" for o in objs]
        col = t.object_column
    ok = [i for i, e in enumerate(errors) if not e]
    bad = [i for i, e in enumerate(errors) if e]
    shown = "; ".join(f"row {i + row_offset}: {objs[i][:60]!r}" for i in bad[:10])
    if not ok:
        raise InputError(f"no valid object for task {t.name} in the input ({errors[0]}): {shown}")
    good = [objs[i] for i in ok]

    def score_part(good):
        if hasattr(t, "score_table"):
            return t.score_table(good, row_offset)
        raw, logr = t.evaluate(t.env.from_strings(good))
        df = pd.DataFrame({col: good, "raw_score": raw.numpy(), "reward": torch.exp(logr).numpy()})
        smiles = t.smiles(good)
        if smiles is not None:  # block strings: the molecule, with the chemistry columns
            from molgfn.chem.descriptors import add_descriptors

            df.insert(1, "smiles", smiles)
            df = add_descriptors(df)
        return df

    from molgfn.scorefile import score_in_chunks

    df = score_in_chunks(score_part, good)  # a large file: in chunks, with progress on stderr
    if not bad:
        return df
    df.index = ok
    df = pd.concat([df, pd.DataFrame({col: [objs[i] for i in bad]}, index=bad)]).sort_index()
    df["valid"] = [not e for e in errors]
    df["error"] = errors
    console.print(f"warning: {len(bad)} of {len(objs)} rows could not be scored ({shown}): kept with "
                  "valid=False and the reason in the error column", highlight=False, soft_wrap=True, markup=False)
    return df.reset_index(drop=True)


@friendly
def scores_cmd(
    store: Annotated[Path, typer.Argument(help="A score store: RUN/scores.sqlite or a --score-store file.")],
    output: Annotated[str, typer.Option("--output", "-o", help="CSV or .parquet path, or - for CSV on stdout.")] = "-",
    force: ForceOpt = False,
) -> None:
    """Export a score store (object, oracle, settings, raw_score, error, wall_s, created) to CSV or Parquet."""
    from molgfn.oracle import STORE_FILE, read_store

    path = store / STORE_FILE if store.is_dir() else store
    output = _output_path(output, force, inputs=[path])
    _emit(read_store(path), output)  # .parquet: needs pyarrow
