"""What `molgfn train` of a sequence task imports: not pandas (~0.2-0.5 s of every run's start),
which only the table-building commands need."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_training_a_sequence_task_does_not_import_pandas():
    code = ("import sys; import cli, molgfn.tasks as tasks, molgfn.api, molgfn.trainer, molgfn.runs, molgfn.history; "
            "tasks.get_task('tfbind8'); print(sorted(m for m in ('pandas', 'matplotlib', 'torch_geometric') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip().splitlines()[-1] == "[]"
