"""Exclusive claims on a path: one writer per run directory, one exporter per export version.

A claim is a small JSON file (the holder's pid, host, process start time,
purpose and start date) created with ``O_CREAT | O_EXCL``, so exactly one
process gets it. It is released when the holder exits the ``with`` block (on
errors and Ctrl-C too). A claim whose holder is gone (same host, and no such
process, or a process of that pid started at another time) is stale: the next
claimant sets it aside and takes over. A claim of another host cannot be
checked and is never taken over.
"""

import datetime
import json
import os
import socket


class LockedError(OSError):
    """The path is claimed by another live process."""


def _start_time(pid):
    """A process's start time in clock ticks since boot (Linux), or None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid, start_time):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    now = _start_time(pid)
    return start_time is None or now is None or now == start_time


class Claim:
    """An exclusive claim, e.g. ``with Claim("runs/dcgan/.lock", "training"):``.

    Args:
      path: the claim file.
      purpose: what the holder does (shown to whoever is refused).
      what: how messages name the claimed thing (default: the claim file's folder).
    """

    def __init__(self, path, purpose, what=None):
        self.path = os.fspath(path)
        self.purpose = purpose
        self.what = what or os.path.dirname(os.path.abspath(self.path))
        self.held = False
        self.taken_over = None  # the stale holder set aside, if any

    def _record(self):
        return {"pid": os.getpid(), "host": socket.gethostname(), "start_time": _start_time(os.getpid()),
                "purpose": self.purpose,
                "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}

    def holder(self):
        """The current holder's record (None if unclaimed; ``{}`` if the file is unreadable)."""
        try:
            with open(self.path) as f:
                record = json.load(f)
            return record if isinstance(record, dict) else {}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _stale(self, record):
        if not record:
            # Unreadable: a claimant killed between create and write, or a damaged file. Stale once old.
            try:
                age = datetime.datetime.now().timestamp() - os.path.getmtime(self.path)
            except OSError:
                return False
            return age > 60
        if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
            return False
        return not _alive(record["pid"], record.get("start_time"))

    def acquire(self):
        """Takes the claim; raises `LockedError` naming the holder if a live process has it."""
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                record = self.holder()
                if record is None:
                    continue  # released meanwhile
                if not self._stale(record):
                    raise LockedError(self._refusal(record)) from None
                aside = f"{self.path}.stale-{os.getpid()}"
                try:
                    os.rename(self.path, aside)  # only one of several claimants wins this rename
                except FileNotFoundError:
                    continue
                os.remove(aside)
                self.taken_over = record
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self._record(), f)
            self.held = True
            return self
        raise LockedError(f"{self.what} is being claimed and released by other processes; try again.")

    def _refusal(self, record):
        if not record:
            return (f"{self.what} is in use (its claim {self.path} is unreadable and recent); nothing was changed. "
                    "Wait a minute and rerun, or remove the file if no other kgan process uses it.")
        who = f"pid {record.get('pid')} on {record.get('host')}, since {record.get('since')}"
        hint = ("" if record.get("host") == socket.gethostname() else
                f" (another host: if that process is gone, remove {self.path})")
        return (f"{self.what} is in use: {record.get('purpose', 'a kgan process')} by {who}{hint}; nothing was "
                "changed. Wait for it to finish, or use another directory.")

    def release(self):
        """Removes the claim if this process still holds it."""
        if self.held:
            record = self.holder()
            if record and record.get("pid") == os.getpid():
                os.remove(self.path)
            self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
