"""The audit's ``--output_dir``: one live audit per directory, and the outputs replaced as a whole.

* Lock: ``OUTPUT_DIR/.sympo-audit.lock``, an exclusive ``flock`` (sympo-train's
  :class:`~sympo_ext.train.rundir.RunLock`) taken before scoring and held until the outputs are
  in place. A second audit on the same directory exits 2 at once, naming the holder's PID; the
  kernel drops the lock when its holder dies (even by ``kill -9``), so a stale file never blocks.
* Swap: the outputs are written into a hidden sibling, ``.NAME.sympo-audit-new`` (same parent, so
  the same filesystem), which then changes places with ``OUTPUT_DIR`` in one
  ``renameat2(RENAME_EXCHANGE)``; the old outputs are removed afterwards. Whenever the audit is
  killed, ``OUTPUT_DIR`` holds the old outputs or the new ones, never a mix. The new directory
  carries its own lock file, locked before the exchange, so the lock never lapses.
  Where ``RENAME_EXCHANGE`` is missing (not Linux, or a filesystem without it) two renames are
  used: for the instant between them ``OUTPUT_DIR`` does not exist (the old outputs are in
  ``.NAME.sympo-audit-old``; the next audit moves them back if the first was killed there).
* The user's files: an ``OUTPUT_DIR`` holding files that are not audit outputs is refused before
  anything runs (:func:`sympo_ext.audit.core.resolve_options`); one that appears there while the
  audit runs is moved into the new directory, never deleted. The leftovers of a killed audit
  (the hidden siblings) are tidied up by the next one, under the lock, by the same rule.
* A refused audit (exit 2) that created ``OUTPUT_DIR`` removes it again.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil

from ..train.rundir import RunDirError, RunLock

__all__ = ["LOCK_NAME", "OutputDir", "exchange_dirs", "foreign_files"]

LOCK_NAME = ".sympo-audit.lock"
OUTPUT_FILES = ("audit.csv", "summary.json", "suspects.jsonl", "cleaned.jsonl", "margins.png")


def is_audit_file(name: str) -> bool:
    """An audit output, its lock file, or a ``.tmp`` of an earlier version's writer."""
    return name in OUTPUT_FILES or name == LOCK_NAME or name.endswith(".tmp")


def _holds_audit_summary(path: str) -> bool:
    """Whether ``path/summary.json`` is one sympo-audit wrote (keys only the audit writes)."""
    import json

    try:
        with open(os.path.join(path, "summary.json"), encoding="utf-8") as fh:
            summary = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and "num_pairs" in summary and "method" in summary


def foreign_files(path: str) -> list[str]:
    """The entries of an existing ``--output_dir`` that are not a previous audit's: every file but the lock
    and an audit's outputs; a file named like an output counts as the audit's only beside an audit's own
    summary.json (else it is the user's: a spreadsheet called audit.csv is never overwritten)."""
    own = _holds_audit_summary(path)
    return sorted(
        e for e in os.listdir(path) if e != LOCK_NAME and not (is_audit_file(e) and (own or e not in OUTPUT_FILES))
    )


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange_dirs(a: str, b: str) -> bool:
    """Swap the directories ``a`` and ``b`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False
    where the system or the filesystem does not support it (nothing changed)."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


class OutputDir:
    """``--output_dir`` of one audit: :meth:`open` (before scoring), :meth:`staging` (write there),
    :meth:`commit` (swap it in), :meth:`close` (always)."""

    def __init__(self, path: str):
        self.given = path
        self.path = os.path.realpath(path)  # a symlink's target is what gets replaced
        parent, name = os.path.split(self.path)
        self.new = os.path.join(parent, f".{name}.sympo-audit-new")
        self.old = os.path.join(parent, f".{name}.sympo-audit-old")
        self.lock = RunLock(self.path, lock_name=LOCK_NAME, owner="sympo-audit")
        self.created = False
        self.committed = False

    def open(self) -> None:
        """Create the directory if needed and take the lock (RunDirError naming --output_dir: cannot be
        created, or in use by another audit); tidy up after a killed audit."""
        if not os.path.isdir(self.path):
            try:
                os.makedirs(self.path)
                self.created = True
            except FileExistsError:
                pass  # another process made it since: the lock decides
            except OSError as e:
                raise RunDirError(f"--output_dir {self.given!r} cannot be created: {e.strerror or e}") from None
        try:
            self.lock.acquire(create=True)
        except RunDirError as e:
            if "in use by" in str(e):
                raise
            raise RunDirError(f"--output_dir {self.given!r} is not writable: {e}") from None
        has_outputs = any(n in OUTPUT_FILES for n in os.listdir(self.path))
        if os.path.isdir(self.old):  # killed between the two renames of the fallback
            self._empty_into_output(self.old, keep_outputs=not has_outputs)
        if os.path.isdir(self.new):  # killed while writing, or before the old outputs were removed
            self._empty_into_output(self.new, keep_outputs=False)
        probe = os.path.join(os.path.dirname(self.path), f".{os.path.basename(self.path)}.sympo-audit-probe")
        try:  # the staging directory is a sibling: the parent must take it
            try:
                os.mkdir(probe)
            except FileExistsError:  # left by an audit killed right here
                pass
            os.rmdir(probe)
        except OSError as e:
            raise RunDirError(
                f"--output_dir {self.given!r}: its parent directory does not take the hidden staging directory "
                f"the outputs are written to ({e.strerror or e}); choose a directory in a writable parent"
            ) from None

    def staging(self) -> str:
        """A fresh, empty directory beside the output directory, for the new outputs."""
        if os.path.isdir(self.new):
            shutil.rmtree(self.new)
        os.mkdir(self.new)
        return self.new

    def commit(self) -> None:
        """Swap the staging directory in (module docstring); the previous outputs are removed, any other
        file that appeared in the output directory meanwhile is moved into the new one."""
        new_lock = RunLock(self.new, lock_name=LOCK_NAME, owner="sympo-audit")
        new_lock.acquire(create=True)  # the lock file the output directory will hold once swapped
        try:
            if exchange_dirs(self.new, self.path):
                parked = self.new
            else:  # two renames: the output directory is absent for the instant between them
                os.rename(self.path, self.old)
                try:
                    os.rename(self.new, self.path)
                except OSError:
                    os.rename(self.old, self.path)  # put the old outputs back: the audit fails with them intact
                    raise
                parked = self.old
        except BaseException:
            new_lock.release()
            raise
        old_lock, self.lock = self.lock, new_lock
        new_lock.path = os.path.join(self.path, LOCK_NAME)
        self.committed = True
        try:
            self._empty_into_output(parked, keep_outputs=False)
        finally:
            old_lock.release()

    def discard(self) -> None:
        """After a failed write: the staging directory goes, the output directory stays as it was."""
        if os.path.isdir(self.new) and not self.committed:
            shutil.rmtree(self.new, ignore_errors=True)

    def close(self) -> None:
        """Release the lock; a directory this audit created and never filled is removed again."""
        try:
            if self.created and not self.committed and self.lock.held:
                if os.listdir(self.path) == [LOCK_NAME]:
                    os.remove(self.lock.path)
                    os.rmdir(self.path)
        except OSError:
            pass
        finally:
            self.lock.release()

    def _empty_into_output(self, src: str, *, keep_outputs: bool) -> None:
        """Remove ``src``: audit files are deleted (kept, with ``keep_outputs``), any other entry is moved
        into the output directory; one that cannot be moved (its name is taken) stays, and so does ``src``."""
        for name in os.listdir(src):
            full = os.path.join(src, name)
            if name == LOCK_NAME or (is_audit_file(name) and not keep_outputs):
                os.remove(full)
            elif not os.path.lexists(os.path.join(self.path, name)):
                os.rename(full, os.path.join(self.path, name))
        try:
            os.rmdir(src)
        except OSError:
            pass  # a user's file whose name is taken in the output directory: left where it is
