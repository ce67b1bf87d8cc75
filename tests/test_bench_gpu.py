"""bench/gpu.py runs on the CPU (so it is ready for a GPU) and writes its table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .conftest import real_or_synthetic


def test_gpu_bench_runs_on_cpu(tmp_path, request, monkeypatch):
    real_or_synthetic(request, "seh-frag-proxy", "seh-frag-blocks", "tfbind8-table", "tfbind8-modes", "qm9str-table",
                      "qm9str-modes", "qm9str-blocks")
    path = Path(__file__).resolve().parents[1] / "bench" / "gpu.py"
    monkeypatch.syspath_prepend(str(path.parent))  # its `import harness`, as when run as a script
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "GPU.md"
    mod.main(["--device", "cpu", "--quick", "--threads", "1", "--out", str(out)])
    text = out.read_text()
    rows = [r for r in text.splitlines() if r.startswith("| seh-frag") or r.startswith("| tfbind8")
            or r.startswith("| qm9str")]
    assert len(rows) == 3
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        # no device to synchronise with (or allocate on) on the CPU
        assert float(cells[1]) > 0 and cells[2] == "n/a" and cells[4] == "n/a"
    assert "molecules/s" in text
