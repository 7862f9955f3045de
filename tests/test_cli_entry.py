"""The console entry (``python -m atlas.cli``, the ``atlas`` script): the command's exit code
and output survive the quick exit, and a run on worker processes leaves no process behind."""

from __future__ import annotations

import subprocess
import sys

import psutil

from atlas import __version__


def atlas(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "atlas.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_exit_codes_and_output_survive_the_quick_exit(tmp_path):
    done = atlas("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"atlas, version {__version__}")
    done = atlas("validate", str(tmp_path / "missing.toml"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "missing.toml" in done.stderr
    done = atlas("no-such-command")
    assert done.returncode == 2
    assert "No such command" in done.stderr


def test_a_run_on_two_workers_leaves_no_process(tiny, tmp_path):
    study = tiny.write(tmp_path / "study")
    before = {p.pid for p in psutil.process_iter()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "atlas.cli", "run", "--config", str(study), "--out",
         str(tmp_path / "out"), "--workers", "2", "--figures", "none", "--map", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: set[int] = set()
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            seen |= {c.pid for c in parent.children(recursive=True)}
        except psutil.Error:
            pass
        try:
            proc.wait(0.05)
        except subprocess.TimeoutExpired:
            pass
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "wrote" in out and (tmp_path / "out" / "run.json").is_file()
    assert seen, "the run started no worker process"
    # the resource tracker ends on its own when the command's end closes its pipe: a
    # process left behind is one still running some seconds later
    procs = []
    for pid in seen - before:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"processes left behind: {[(p.pid, p.cmdline()) for p in alive]}"
