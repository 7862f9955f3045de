"""Faults (issue 12): every process a run started ends when the main process dies, however it
dies, and its tasks on an external scheduler are cancelled; an output folder that cannot be
written gives one clear error and leaves the previous run as it was; no temporary file or
staging folder survives a run, and what a killed run left is removed by the next command."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from test_runfolder import _run_killed_at

import atlas.files
from atlas.cli import main
from atlas.errors import AtlasInputError
from atlas.pipeline import run_study
from atlas.runfolder import Run, Staging

#: Seconds within which a process must end once the main process is gone.
GRACE_S = 5.0


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but run.json (relative path -> bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "run.json"
    }


def leftovers(root: Path) -> list[str]:
    """Anything hidden (a staging folder, an old run, a ``.NAME.*.tmp`` file) or ending in
    ``.tmp`` anywhere under ``root``."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name.startswith(".") or p.name.endswith(".tmp")
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny) -> Path:
    return tiny.write(tmp_path_factory.mktemp("faults") / "study")


@pytest.fixture(scope="module")
def first_run(study, tmp_path_factory) -> Path:
    """A run of the tiny study, made once (copy it to change it)."""
    out = tmp_path_factory.mktemp("first") / "run"
    run_study(study, out, figures="none", webmap="none", workers=1)
    return out


@pytest.fixture
def previous(first_run, tmp_path) -> Path:
    """A copy of the first run in ``tmp_path / "runs" / "D"`` (nothing else in ``runs``)."""
    return Path(shutil.copytree(first_run, tmp_path / "runs" / "D"))


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _still_running(procs: list[psutil.Process], timeout: float = GRACE_S) -> list[str]:
    """The processes of ``procs`` still running (not zombies) after ``timeout`` seconds."""
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    out = []
    for p in alive:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(
                    f"{p.pid} {' '.join(p.cmdline())[:100]} ({p.memory_info().rss >> 20} MB)"
                )
                p.kill()  # not left for the next tests
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_for(condition, what: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the command ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)


def _part_written(runs: Path) -> bool:
    """A chunk's part file is in a staging folder of ``runs``."""
    return any(runs.glob(".*.atlas-staging-*/flexibility_hourly.parquet/part-*.parquet"))


# ---- every process ends with the main process ---------------------------------------------------


def _kill_run_midway(
    study: Path, out: Path, *engine: str, children: int
) -> tuple[list[psutil.Process], list[str]]:
    """Start ``atlas run`` (every figure: each chunk's worker draws for many seconds), wait
    for its first part file and ``children`` processes under it, then SIGKILL the main
    process alone (not its process group). Returns the processes it had started and their
    command lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "atlas.cli", "run", "--config", str(study), "--out", str(out),
         "--chunk-size", "1", "--figures", "all", "--map", "none", "--no-progress", *engine],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(lambda: _part_written(out.parent), "part file", proc)
        _wait_for(lambda: len(_descendants(proc.pid)) >= children, f"{children} processes", proc)
        started = _descendants(proc.pid)
        names = [" ".join(p.cmdline()) for p in started]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    return started, names


def test_worker_processes_end_when_the_run_is_killed(study, previous):
    """``atlas run --workers 2`` SIGKILLed while both workers compute: the workers, the fork
    server and the resource tracker end by themselves within a few seconds."""
    before = files_of(previous)
    started, names = _kill_run_midway(study, previous, "--workers", "2", children=4)
    assert sum("forkserver" in n for n in names) == 3  # the server and its two workers
    assert _still_running(started) == []
    # the killed run's staging folder (part files, maybe a .tmp) goes with the next command
    assert leftovers(previous.parent)
    Run.load(previous)
    assert leftovers(previous.parent) == [] and files_of(previous) == before


_POOL_SCRIPT = """
import sys, time
from atlas.batch import ProcessEngine

if __name__ == "__main__":
    engine = ProcessEngine(2, method=sys.argv[1])
    engine.start()
    futures = [engine.pool.submit(time.sleep, 600) for _ in range(4)]
    time.sleep(600)
"""


@pytest.mark.parametrize(("method", "children"), [("forkserver", 4), ("spawn", 3)])
def test_pool_workers_end_with_the_main_process(tmp_path, method, children):
    """The process engine's workers, started either way, busy in a task: SIGKILL of the
    process that made the pool ends them (and the fork server, the resource tracker)."""
    script = tmp_path / "pool.py"
    script.write_text(_POOL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), method])
    try:
        _wait_for(lambda: len(_descendants(proc.pid)) >= children, "workers", proc, 60)
        time.sleep(0.5)  # the workers inside their tasks
        started = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _still_running(started) == []


def test_a_finished_pool_leaves_no_watch_behind(tmp_path):
    """The pipe the workers watch is closed with the engine (no descriptor kept open)."""
    from atlas.batch import ProcessEngine

    engine = ProcessEngine(2, method="spawn")
    engine.start()
    assert engine.pool.submit(os.getpid).result() != os.getpid()
    read_end, write_end = engine.alive
    engine.close()
    assert read_end.closed and write_end.closed and engine.alive is None


@pytest.mark.slow
def test_a_local_dask_cluster_ends_when_the_run_is_killed(study, previous):
    """``--engine dask``: the LocalCluster's worker processes end with the main process
    (dask.distributed's worker processes watch a pipe from their parent, as ours do)."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    started, _ = _kill_run_midway(study, previous, "--engine", "dask", "--workers", "2", children=3)
    assert _still_running(started, timeout=10) == []
    Run.load(previous)
    assert leftovers(previous.parent) == []


@pytest.mark.slow
def test_tasks_on_an_external_scheduler_are_cancelled_when_the_run_is_killed(study, previous):
    """``--scheduler``: once the main process is gone, the scheduler drops its tasks (the
    client's connection closed), the queued ones never run and the running one is
    cancelled on its worker."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):

        def states(dask_scheduler):
            return [ts.state for ts in dask_scheduler.tasks.values()]

        ours = {client.id, "fire-and-forget"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "atlas.cli", "run", "--config", str(study), "--out",
             str(previous), "--chunk-size", "1", "--figures", "all", "--map", "none",
             "--no-progress", "--scheduler", cluster.scheduler_address],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # the run submits its chunks one after the other: wait for all three (one a
            # chunk), one of them running
            _wait_for(
                lambda: (
                    (s := client.run_on_scheduler(states)).count("processing") >= 1 and len(s) == 3
                ),
                "three tasks, one running",
                proc,
            )
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        deadline = time.monotonic() + GRACE_S
        while client.run_on_scheduler(states) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.run_on_scheduler(states) == []
        clients = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.clients))
        assert set(clients) <= ours
        worker_states = client.run(
            lambda dask_worker: [ts.state for ts in dask_worker.state.tasks.values()]
        )
        assert all(s == "cancelled" for v in worker_states.values() for s in v)


# ---- an output folder that cannot be written ----------------------------------------------------


@pytest.fixture(scope="module")
def unprivileged(tmp_path_factory) -> list[str]:
    """The command prefix under which a folder's read-only mode stops writes: nothing for
    a user; for root, ``setpriv`` dropping the capabilities that bypass it. Skips where
    there is none (root without setpriv, or not allowed to drop them)."""
    folder = tmp_path_factory.mktemp("probe") / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        prefixes = [[]]
        if os.geteuid() == 0 and shutil.which("setpriv"):
            prefixes.append(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"])
        for k, prefix in enumerate(prefixes):
            probe = [
                sys.executable,
                "-c",
                "import sys; open(sys.argv[1], 'x')",
                str(folder / f"{k}"),
            ]
            done = subprocess.run([*prefix, *probe], capture_output=True)
            if done.returncode != 0 and b"PermissionError" in done.stderr:
                return prefix
    finally:
        folder.chmod(0o755)
    pytest.skip("chmod does not stop writes here (root without a way to drop its capabilities)")


def _atlas_as(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "atlas.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@contextmanager
def _read_only(*folders: Path):
    modes = [f.stat().st_mode for f in folders]
    for f in folders:
        f.chmod(stat.S_IMODE(f.stat().st_mode) & ~0o222)
    try:
        yield
    finally:
        for f, mode in zip(folders, modes, strict=True):
            f.chmod(stat.S_IMODE(mode))


def _assert_one_line_error(done: subprocess.CompletedProcess, path: Path, reason: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {path}: ") and done.stderr.count("\n") == 1, done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr


def test_an_out_folder_under_a_read_only_folder(unprivileged, study, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    for out in (locked / "out", locked / "a" / "b"):
        with _read_only(locked):
            done = _atlas_as(unprivileged, "run", "--config", str(study), "--out", str(out))
        _assert_one_line_error(done, out, "permission denied")
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("command", ["init", "synth"])
def test_a_command_writing_into_a_read_only_folder_is_one_line(unprivileged, tmp_path, command):
    """``atlas init FOLDER`` and ``atlas synth OUT_DIR`` under a read-only folder, or
    naming a file: one line naming the folder (no traceback), nothing written."""
    locked = tmp_path / "locked"
    locked.mkdir()
    more = ["--n-ps", "2"] if command == "synth" else []
    out = locked / "study"
    with _read_only(locked):
        done = _atlas_as(unprivileged, command, str(out), *more)
    _assert_one_line_error(done, out, "permission denied")
    assert "choose another folder" in done.stderr
    assert list(locked.iterdir()) == []
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    done = _atlas_as([], command, str(a_file), *more)
    _assert_one_line_error(done, a_file, "a file, not a folder")


@pytest.mark.parametrize("command", ["run", "areas", "profiles export"])
def test_a_read_only_out_folder_is_one_line(unprivileged, study, previous, command):
    """Not click's three-line usage error; the previous run as it was, nothing beside it."""
    before = files_of(previous)
    with _read_only(previous):
        done = _atlas_as(
            unprivileged, *command.split(), "--config", str(study), "--out", str(previous)
        )
    _assert_one_line_error(done, previous, "permission denied")
    assert "Usage:" not in done.stderr
    assert files_of(previous) == before and leftovers(previous.parent) == []


@pytest.mark.parametrize("where", ["dataset", "parent"])
def test_a_run_folder_that_cannot_be_replaced_is_one_line(unprivileged, study, previous, where):
    """A read-only folder inside the old run (which could not be removed), or a read-only
    folder holding the run folder (no staging folder beside it): refused, with the old run
    left as it was, by ``atlas run`` and ``atlas screen``."""
    before = files_of(previous)
    locked = previous / "flexibility_hourly.parquet" if where == "dataset" else previous.parent
    for args in (["run", "--config", str(study), "--out"], ["screen"]):
        with _read_only(locked):
            done = _atlas_as(unprivileged, *args, str(previous))
        _assert_one_line_error(done, previous.absolute(), "permission denied")
        assert str(locked) in done.stderr and "the folder is left as it was" in done.stderr
        assert files_of(previous) == before and leftovers(previous.parent) == []


def _failing_writes(monkeypatch, error: BaseException, at: int) -> list[Path]:
    """Make the ``at``-th file written atomically (:func:`atlas.files.atomic_path`) fail
    half-way with ``error``; returns the list of the files written (their final paths)."""
    real = atlas.files.atomic_path
    written: list[Path] = []

    @contextmanager
    def atomic_path(dest):
        with real(dest) as tmp:
            written.append(Path(dest))
            if len(written) == at:
                tmp.write_bytes(b"half a file")
                raise error
            yield tmp

    monkeypatch.setattr(atlas.files, "atomic_path", atomic_path)
    return written


def test_a_full_disk_is_one_line_and_leaves_the_previous_run(study, previous, monkeypatch):
    """ENOSPC at the third file a run writes: the atlas's one-line error naming the folder,
    the previous run intact, the staging folder and the temporary file removed."""
    before = files_of(previous)
    _failing_writes(monkeypatch, OSError(errno.ENOSPC, "No space left on device"), at=3)
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(study), "--out", str(previous), "--workers", "1",
         "--no-progress", "--figures", "summary", "--map", "offline"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    error = result.output.splitlines()[-1]
    assert error.startswith(f"error: {previous}: cannot write the run folder (no space left on")
    assert "free space" in error and "the folder is left as it was" in error
    assert files_of(previous) == before
    assert leftovers(previous.parent.parent) == []


def test_a_full_disk_while_exporting_profiles_is_one_line(study, tmp_path, monkeypatch):
    """The same for a command writing files straight into ``--out``."""
    _failing_writes(monkeypatch, OSError(errno.ENOSPC, "No space left on device"), at=2)
    out = tmp_path / "profiles"
    result = CliRunner().invoke(
        main, ["profiles", "export", "--config", str(study), "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {out}: cannot write into it (no space left on the device), expected free "
        "space on its device (free some, or choose another --out)\n"
    )
    assert leftovers(out) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EDQUOT, "disk quota exceeded"),
        (errno.EROFS, "the file system is read-only"),
        (errno.EACCES, "permission denied"),
        (errno.EIO, "input/output error on the device"),
    ],
)
def test_any_write_error_in_a_staging_folder_is_a_user_error(previous, code, reason):
    before = files_of(previous)
    with pytest.raises(AtlasInputError) as err, Staging(previous) as stage:
        (stage.path / "x.csv").write_text("half")
        raise OSError(code, os.strerror(code), str(stage.path / "figures" / "N" / "a.png"))
    assert err.value.path == str(previous) and reason in err.value.problem
    assert str(previous / "figures" / "N" / "a.png") in err.value.problem  # not the staging
    assert isinstance(err.value.__cause__, OSError)
    assert files_of(previous) == before and leftovers(previous.parent) == []


def test_an_error_about_another_file_stays_itself(previous, tmp_path):
    """An OSError naming an input file is not the run folder's: it is not renamed."""
    with pytest.raises(FileNotFoundError), Staging(previous):
        raise FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "load.csv"))
    assert leftovers(previous.parent) == []


# ---- no temporary file survives ----------------------------------------------------------------


def test_a_finished_run_leaves_no_temporary_file(study, previous):
    """Every writer (csv parts joined, figures, report, offline map, two workers), then a
    run replacing it and an update: no ``.tmp`` file, no staging folder, no old run."""
    root = previous.parent
    runner = CliRunner()
    args = ["run", "--config", str(study), "--out", str(previous), "--no-progress"]
    for more in (
        ["--workers", "2", "--format", "csv", "--figures", "summary", "--map", "offline"],
        ["--workers", "1", "--figures", "none", "--map", "online"],
    ):
        result = runner.invoke(main, [*args, *more])
        assert result.exit_code == 0, result.output
        assert leftovers(root) == []
    result = runner.invoke(main, ["screen", str(previous), "--threshold-mw", "1"])
    assert result.exit_code == 0, result.output
    assert leftovers(root) == []


def test_a_failed_run_leaves_no_temporary_file(study, previous, monkeypatch):
    """An error (not the user's) half-way through the writing: the previous run as it was,
    nothing left under or beside it."""
    before = files_of(previous)
    _failing_writes(monkeypatch, RuntimeError("a bug half-way"), at=4)
    with pytest.raises(RuntimeError, match="a bug half-way"):
        run_study(study, previous, figures="summary", webmap="offline", workers=1)
    assert files_of(previous) == before and leftovers(previous.parent.parent) == []


def test_every_file_of_a_run_is_written_in_its_staging_folder(study, previous, monkeypatch):
    """No command writes a single file beside the run folder (where :func:`recover` would
    not look): every atomic write of a run, an update and an areas stage goes into a
    staging folder, which the next command removes whole if the writer is killed."""
    written = _failing_writes(monkeypatch, RuntimeError("never"), at=0)
    run_study(study, previous, formats=("csv",), figures="summary", webmap="offline", workers=1)
    runner = CliRunner()
    for args in (["screen", str(previous), "--threshold-mw", "2"], ["map", str(previous)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
    assert written
    staging = f".{previous.name}.atlas-staging-"
    outside = [
        p
        for p in written
        if previous.parent not in p.parents
        or not p.relative_to(previous.parent).parts[0].startswith(staging)
    ]
    assert outside == []


def test_a_run_killed_while_writing_a_file_is_cleaned_by_the_next_command(study, previous):
    before = files_of(previous)
    assert _run_killed_at("tmp", study, previous, figures="summary") == -signal.SIGKILL
    left = leftovers(previous.parent)
    assert any(n.endswith(".tmp") for n in left), left  # killed between write and rename
    assert all(n.startswith(".D.atlas-staging-") for n in left)
    assert files_of(previous) == before
    result = CliRunner().invoke(main, ["screen", str(previous), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert leftovers(previous.parent) == []


def _cli_killed_at(point: str, args: list[str]) -> int:
    """Run ``atlas ARGS`` in a subprocess that SIGKILLs itself at ``point``."""
    env = dict(os.environ, ATLAS_FAULT=point)
    proc = subprocess.run(
        [sys.executable, "-m", "atlas.cli", *args], env=env, capture_output=True, timeout=300
    )
    return proc.returncode


@pytest.mark.parametrize(
    "command",
    [
        ["init", "{out}"],
        ["synth", "{out}", "--n-ps", "3", "--ders-per-ps", "5"],
        ["profiles", "export", "--config", "{study}", "--out", "{out}"],
    ],
    ids=["init", "synth", "profiles-export"],
)
def test_a_folder_command_killed_while_writing_is_cleaned_by_the_next_one(study, tmp_path, command):
    """Commands that write files into a folder (not a run folder): a SIGKILL between a
    file's writing and its move leaves ``.NAME.PID.XXXXXXXX.tmp``; the same command run
    again removes it (its writer is gone) and writes every file."""
    out = tmp_path / "out"
    args = [a.format(out=out, study=study) for a in command]
    assert _cli_killed_at("tmp", args) == -signal.SIGKILL
    left = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith("."), left
    again = [*args, "--force"] if command[0] in ("init", "synth") else args
    result = CliRunner().invoke(main, again)
    assert result.exit_code == 0, result.output
    assert leftovers(out) == []


def test_a_temporary_file_of_a_live_writer_is_kept(tmp_path):
    """Only a dead writer's temporary files are removed: one of a process still running,
    and any file not named like a temporary file, stay."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        names = {
            "live": f".a.csv.{sleeper.pid}.abcd1234.tmp",
            "dead": f".a.csv.{int(dead.stdout)}.abcd1234.tmp",
            "other": ".a.csv.abcd1234.tmp",  # not the atlas's pattern
            "user": "notes.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_text("x")
        removed = atlas.files.remove_stale_temporaries(tmp_path)
        assert [p.name for p in removed] == [names["dead"]]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            v for k, v in names.items() if k != "dead"
        )
    finally:
        sleeper.kill()
        sleeper.wait()
