"""Run directories: file names, and atomic writers for metrics, checkpoints and candidate tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .atomic import atomic_torch_save, atomic_write_bytes, atomic_write_text

CONFIG = "config.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
CANDIDATES = "candidates.csv"

__all__ = ["CONFIG", "METRICS", "CHECKPOINT", "CANDIDATES", "atomic_write_csv", "atomic_torch_save",
           "atomic_write_bytes", "atomic_write_text"]


def atomic_write_csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False))
