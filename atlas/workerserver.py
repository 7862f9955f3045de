"""The server that worker processes are forked from (``multiprocessing``'s fork server).

A light module (the standard library only), so that the ``atlas`` command can start the
server before it imports the scientific stack: the server's imports of what a chunk needs
(:data:`WORKER_MODULES`, about 2 s of Python) then run on the other core while this
process imports and reads the study, and the first worker is ready for the study's TMY
(:func:`atlas.batch.plan_study`). :class:`atlas.batch.ProcessEngine` starts it too (a
no-op when it runs already), so a notebook user's ``run_study`` needs nothing of this.
"""

from __future__ import annotations

import multiprocessing
import threading

#: Modules a worker needs for its chunks, imported once by the fork server.
WORKER_MODULES = (
    "atlas.batch",
    "atlas.engine.compute",
    "atlas.analysis.stats",
    "atlas.timeseries.pv",
    "atlas.dataset",
    "atlas.runfolder",
    "pvlib",
    "scipy.spatial",
    "pyarrow.parquet",
)


def has_forkserver() -> bool:
    """Whether this platform's multiprocessing has the ``forkserver`` start method."""
    return "forkserver" in multiprocessing.get_all_start_methods()


def start_server() -> None:
    """Start this process's fork server with :data:`WORKER_MODULES` to import (nothing if
    it runs already or the platform has none). It ends when this process and its workers
    are gone, or with :func:`stop_server`."""
    if not has_forkserver():
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_MODULES))
    forkserver.ensure_running()


def stop_server() -> None:
    """Ask this process's fork server to exit, in a thread that waits for it: the server
    (with the workers' modules imported) takes about half a second to end, which then
    overlaps the report and the map instead of outliving the command. The next engine
    starts a new one. Nothing where multiprocessing lacks the (private) stop method."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if callable(stop):
        threading.Thread(target=stop, name="atlas-forkserver-stop").start()
