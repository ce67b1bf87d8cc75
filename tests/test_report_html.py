"""report.html: self-contained, and checked in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgfn.report import HTML, make_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: "
                                    "apt-get update && apt-get install -y chromium")

SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "O=C1NC(=S)SC1=Cc1ccccc1", "Oc1ccccc1O", "CCN(CC)C(=O)c1ccccc1",
          "c1ccc2[nH]ccc2c1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]


def _run_dir(tmp_path: Path, pareto: bool = True) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task": "qed-frag", "objective": "tb", "rounds": 30, "seed": 0,
                                                 "task_options": {"filters": ["pains"]}}))
    r = np.arange(1, 31)
    pd.DataFrame({"round": r, "reward_calls": 16 * r, "loss": 50 / r, "log_z": np.log(r), "mean_raw": 0.3 + r / 100,
                  "max_raw": 0.5 + r / 80, "best_raw": 0.5 + r / 80, "unique_objects": 10 * r,
                  "modes": 0, "filtered": 3 * r}).to_csv(run / "metrics.csv", index=False)
    df = pd.DataFrame({"rank": range(1, 7), "smiles": SMILES, "raw_score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
                       "reward": [0.6, 0.4, 0.3, 0.2, 0.1, 0.05]})
    if pareto:
        df["obj_a"] = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
        df["obj_b"] = [0.1, 0.5, 0.2, 0.7, 0.3, 0.2]
        df["pareto_rank"] = [1, 1, 2, 1, 2, 3]
    df.to_csv(run / "candidates.csv", index=False)  # written without the chemistry columns: the report adds them
    return run


def _browse(page: Path, tmp_path: Path, *flags: str, fragment: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr",
                           "--v=0", f"--user-data-dir={tmp_path / 'profile'}", *flags, page.as_uri() + fragment],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def _console(stderr: str) -> list[str]:
    """Console messages (console.log/warn/error, uncaught exceptions, failed loads) chromium logged."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]


def test_report_html_is_self_contained(tmp_path):
    run = _run_dir(tmp_path)
    written = make_report(run)
    page = run / HTML
    assert page in written
    text = page.read_text()
    # nothing fetched at view time: no remote or relative resources, images inline
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", text)
    assert "@import" not in text and "url(" not in text
    assert text.count("data:image/png;base64,") == 2  # training curves and the Pareto plot
    assert text.count("<svg") == len(SMILES)  # one drawing per top molecule
    assert "ene_rhod_A(235)" in text and "catechol_A(92)" in text  # alerts by name on the cards
    assert 'data-col="pareto_rank"' in text and 'data-col="sa_score"' in text


def test_report_without_molecules_or_pareto(tmp_path):
    run = _run_dir(tmp_path, pareto=False)
    (run / "candidates.csv").write_text("rank,sequence,raw_score\n1,ACGT,0.5\n2,AAAA,0.25\n")
    make_report(run, tmp_path / "rep")
    text = (tmp_path / "rep" / HTML).read_text()
    assert "<svg" not in text and "Pareto" not in text and text.count("<tr>") == 3


@needs_chromium
def test_console_parser_sees_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><link rel="icon" href="data:,"><p>x</p><script>nope();</script>')
    res = _browse(bad, tmp_path, "--dump-dom")
    assert any("nope is not defined" in m for m in _console(res.stderr)), res.stderr[-2000:]


@needs_chromium
def test_report_loads_without_console_errors_and_is_not_blank(tmp_path):
    from PIL import Image

    run = _run_dir(tmp_path)
    make_report(run)
    shot = tmp_path / "shot.png"
    res = _browse(run / HTML, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    assert _console(res.stderr) == [], _console(res.stderr)
    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert img.shape == (2400, 1280)
    assert img.std() > 20  # drawings, plots and text, not an empty page
    assert (img < 128).mean() > 0.01 and (img > 250).mean() > 0.3


@needs_chromium
def test_candidate_table_sorts_in_the_browser(tmp_path):
    run = _run_dir(tmp_path)
    make_report(run)
    orders = {}
    for frag in ("#sort=obj_b:asc", "#sort=obj_b", "#sort=reward:asc"):
        res = _browse(run / HTML, tmp_path, "--dump-dom", fragment=frag)
        assert _console(res.stderr) == [], _console(res.stderr)
        table = res.stdout[res.stdout.index('<table id="candidates"'):]
        rows = re.findall(r"<tr>(.*?)</tr>", table[table.index("<tbody>"):], flags=re.S)
        orders[frag] = [re.search(r"<td[^>]*>(\d+)</td>", r).group(1) for r in rows]  # the rank cell
    b = [0.1, 0.5, 0.2, 0.7, 0.3, 0.2]
    asc = [str(i + 1) for i in sorted(range(6), key=lambda i: (b[i], i))]
    assert orders["#sort=obj_b:asc"] == asc
    assert [float(b[int(r) - 1]) for r in orders["#sort=obj_b"]] == sorted(b, reverse=True)
    assert orders["#sort=reward:asc"] == ["6", "5", "4", "3", "2", "1"]
