"""bench/TUNING.md's calibrated-recipe tables are reproduced by their own commands (issue 18).

One cheap committed row (tfbind8, a few rounds, a Logit-GFN + LS sampler measured at both ends of its
beta range): its command, as TUNING.md prints it, is run again into a scratch CSV and must give the
same modes and reward calls, and the same calibration numbers up to float noise. The row's table (the
output of ``bench/calibrated.py --table``) must be in TUNING.md as committed.
"""

from __future__ import annotations

import csv
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

from .conftest import SHARED, need_reference_data

need_reference_data("tfbind8-table", "tfbind8-modes")

ROOT = Path(__file__).resolve().parents[1]
REPRO_CSV = ROOT / "bench" / "tuning" / "repro.csv"
EXACT = ("task", "recipe", "seed", "rounds", "reward_calls", "modes", "beta_eval")
FLOATS = ("l1", "log_z_learned", "log_z_exact", "log_z_error", "is_log_z", "is_log_z_se", "is_ess", "is_log_z_error")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_committed_row_and_its_table_are_in_tuning_md():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from calibrated import table
    finally:
        sys.path.remove(str(ROOT / "bench"))
    text = (ROOT / "bench" / "TUNING.md").read_text()
    (row,) = _rows(REPRO_CSV)
    assert f"    {row['command']}\n" in text  # the command, as a reader would copy it
    rows = [line for line in table([REPRO_CSV]).splitlines() if line.startswith("|")]
    assert len(rows) == 3 and all(f"{line}\n" in text for line in rows)  # header, rule, the row


def test_the_documented_command_reproduces_the_committed_row(tmp_path):
    (want,) = _rows(REPRO_CSV)
    argv = shlex.split(want["command"])
    assert argv[:2] == ["python", "bench/calibrated.py"]
    out = tmp_path / "rerun.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MOLGFN_DATA": str(SHARED)}
    r = subprocess.run([sys.executable, *argv[1:], "--csv", str(out)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (got,) = _rows(out)
    assert got["command"] == want["command"]  # --csv is where rows go, not part of the recorded command
    for k in EXACT:
        assert got[k] == want[k], k
    for k in FLOATS:
        assert math.isclose(float(got[k]), float(want[k]), rel_tol=1e-4, abs_tol=1e-4), (k, got[k], want[k])
