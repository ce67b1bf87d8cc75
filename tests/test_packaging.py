"""The wheel a user installs: one top-level package, ``molgfn`` (the checkout's ``tasks/`` becomes
``molgfn.tasks``, its ``cli.py`` launcher stays out), every module of the checkout in it, the console
script, and no license deprecation warning while building it (issue 21)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    src = ROOT
    if (ROOT / ".git").exists():  # build from the tracked files only: a stale build/ folder would leak into it
        src = tmp_path_factory.mktemp("src")
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        for name in filter(None, files.decode().split("\0")):
            if (ROOT / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, src / name)
    # --no-build-isolation: the venv's setuptools (the build requirement), no download
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
                        str(src)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and "No module named pip" in r.stderr:
        pytest.skip("this Python has no pip")
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("molgfn-*.whl")
    return whl, r.stdout + r.stderr


def test_the_wheel_has_molgfn_as_its_only_top_level_package(wheel):
    whl, _ = wheel
    names = zipfile.ZipFile(whl).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.startswith("molgfn-")} == {"molgfn"}, tops
    assert "molgfn/tasks/__init__.py" in names and "molgfn/cli.py" in names
    assert not any(n in ("cli.py", "tasks/__init__.py") for n in names)
    # every module of the checkout's library and task plugins is in the wheel (the package list is complete)
    want = {f"molgfn/{p.relative_to(ROOT / 'molgfn').as_posix()}" for p in (ROOT / "molgfn").rglob("*.py")}
    want |= {f"molgfn/tasks/{p.relative_to(ROOT / 'tasks').as_posix()}" for p in (ROOT / "tasks").rglob("*.py")}
    assert want <= set(names), sorted(want - set(names))
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "molgfn = molgfn.cli:app" in zipfile.ZipFile(whl).read(entry).decode()
    meta = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in meta


def test_building_it_prints_no_license_deprecation(wheel):
    _, log = wheel
    bad = [line for line in log.splitlines() if "license" in line.lower() and "deprecat" in line.lower()]
    assert not bad, bad


def test_the_installed_names_do_not_shadow_a_users_modules(tmp_path):
    # a user's own tasks.py / cli.py in their folder stays theirs; molgfn's plugins are molgfn.tasks
    (tmp_path / "tasks.py").write_text("MINE = 1\n")
    code = "import tasks, molgfn.tasks as mt; print(tasks.MINE, 'tfbind8' in mt.registry())"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.split() == ["1", "True"], r.stderr[-1000:]
