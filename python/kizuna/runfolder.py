"""Run-folder housekeeping shared by ``kizuna train`` and ``kizuna learn``: one process per
folder (a lock file), and the validated configuration written without touching the user's.

Lock: ``<folder>/.kizuna.lock`` is held with ``fcntl.flock`` for the life of the run and holds
the holder's PID, host, start time and command line. The kernel drops the lock when the
process ends (even ``kill -9``), so a lock file left behind by a dead process never blocks;
a second run on a held folder stops with a message naming the holder.
"""
from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
import warnings
from pathlib import Path

from .errors import KizunaError

LOCK_NAME = ".kizuna.lock"
#: first line of every configuration file kizuna writes into a run folder
RESOLVED_HEADER = "# kizuna: validated configuration of this run (defaults filled in)"
_OLD_HEADERS = ("# validated configuration of this run",)  # written before RESOLVED_HEADER


class RunFolderBusy(KizunaError, RuntimeError):
    """Another process is running in this run folder."""


class RunLock:
    """Exclusive lock of a run folder (see the module docstring); ``release()`` or ``with``."""

    def __init__(self, directory, what: str):
        self.path = Path(directory) / LOCK_NAME
        self.what = what
        self._handle = None

    def acquire(self) -> "RunLock":
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip().replace("\n", ", ") or "another process"
            handle.close()
            raise RunFolderBusy(
                f"{self.path.parent}: this run folder is in use by {holder} (lock file "
                f"{self.path}); wait for that run to end or stop it, or use another "
                "output.directory") from None
        except OSError as exc:  # a file system without locks (some network mounts)
            warnings.warn(f"{self.path.parent}: cannot lock the run folder ({exc.strerror}); "
                          "make sure that no other run uses it", RuntimeWarning, stacklevel=2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n"
                     f"since {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"
                     f"{self.what}: {' '.join(sys.argv)}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            # the file stays (removing it would race with a run that opened it meanwhile)
            try:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            except OSError:
                pass  # not locked (a file system without locks): closing is all there is
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _written_by_kizuna(path: Path) -> bool:
    try:
        with open(path) as handle:
            first = handle.readline().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return False
    return first == RESOLVED_HEADER or first.startswith(_OLD_HEADERS)


def write_resolved_config(directory, cfg: dict, name="config.yaml") -> Path:
    """Write ``cfg`` (keys starting with ``_`` left out) as YAML to ``<directory>/<name>``,
    unless a file of that name that kizuna did not write is there (the user's own config,
    e.g. with ``output.directory: .``): then to ``<stem>.resolved.yaml``; a user's file is
    never overwritten. Returns the path written."""
    import yaml

    path = Path(directory) / name
    if path.exists() and not _written_by_kizuna(path):
        path = path.with_name(f"{path.stem}.resolved.yaml")
        if path.exists() and not _written_by_kizuna(path):
            raise KizunaError(f"{path.parent}: both {name} and {path.name} are files kizuna did "
                              "not write; use another output.directory")
    clean = {k: v for k, v in cfg.items() if not str(k).startswith("_")}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(RESOLVED_HEADER + "\n" + yaml.safe_dump(clean, sort_keys=False))
    os.replace(tmp, path)
    return path
