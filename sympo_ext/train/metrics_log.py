"""The metrics logger: CSV (always), TensorBoard (when installed), with TRL's names."""

from __future__ import annotations

import csv
import io
import itertools
import os
import socket
import sys
import time

from ..metrics import METRIC_NAMES
from .checkpoint_files import CheckpointWriteError, atomic_write_text, write_failure

__all__ = ["MetricsLogger", "CSV_COLUMNS", "read_metrics"]

# The metric names are sympo_ext.metrics.METRIC_NAMES (TRL's where one exists); the CSV adds the step's context.
CSV_COLUMNS = (
    "step",
    "split",
    "epoch",
    *METRIC_NAMES,
    "learning_rate",
    "grad_norm",
    "num_tokens",
    "tokens_per_second",
    "elapsed_s",
)


def _complete(row: dict) -> bool:
    """False for a row cut short by a kill while it was written (missing columns, no valid step)."""
    return None not in row and None not in row.values() and (row.get("step") or "").isdigit()


_EVENT_FILES = itertools.count()  # a new file per logger (two in one second must not share a name)


class _EventsFile:
    """TensorBoard's event file (OUTPUT_DIR/tb), written in the caller's thread. (``SummaryWriter`` writes from
    a thread of its own: a ``tb/`` deleted while the run was live printed that thread's traceback.) A
    ``tb/`` deleted under a live run is recreated with one line; any other failed write stops the run
    (CheckpointWriteError: status 4). Raises ImportError without tensorboard."""

    def __init__(self, logdir: str, resume_step: int | None):
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.record_writer import RecordWriter

        self._event, self._summary, self._record = Event, Summary, RecordWriter
        self.logdir = logdir
        # A resume replays the steps after resume_step: TensorBoard hides their old events (a START
        # session log hides every earlier event of a step >= its own, so resume_step + 1: as the CSV does).
        restart = SessionLog(status=SessionLog.START)
        self._open(
            [Event(wall_time=time.time(), step=resume_step + 1, session_log=restart)] if resume_step is not None else []
        )

    def _open(self, first: list) -> None:
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_EVENT_FILES)}"
        self.path = os.path.join(self.logdir, name)
        self._write([self._event(wall_time=time.time(), file_version="brain.Event:2"), *first], mode="wb")

    def _write(self, events: list, mode: str = "ab") -> None:
        try:
            if mode == "wb":
                os.makedirs(self.logdir, exist_ok=True)
            with open(self.path, mode) as fh:
                out = self._record(fh)
                for event in events:
                    out.write(event.SerializeToString())
        except OSError as e:
            failure = write_failure(self.path, e)
            raise CheckpointWriteError(failure.errno, f"{failure.strerror} (TensorBoard events)") from None

    def add_scalars(self, values: dict, step: int) -> None:
        if not os.path.isdir(self.logdir):
            print(
                f"[sympo-train] {self.logdir} was deleted while the run was live: recreated it (the TensorBoard "
                "events logged before are gone; metrics.csv keeps every row)",
                file=sys.stderr,
                flush=True,
            )
            self._open([])
        value = [self._summary.Value(tag=tag, simple_value=v) for tag, v in values.items()]
        self._write([self._event(wall_time=time.time(), step=step, summary=self._summary(value=value))])


class MetricsLogger:
    """Append metric rows to OUTPUT_DIR/metrics.csv (+ TensorBoard under OUTPUT_DIR/tb).

    One row per (step, split): on resume, rows after the checkpoint's step are dropped, and a row
    logged again for a (step, split) already in the file (the final evaluation of a run killed
    after it) replaces the old one instead of duplicating it."""

    def __init__(
        self, output_dir: str, *, enabled: bool = True, tensorboard: str = "auto", resume_step: int | None = None
    ):
        self.enabled = enabled
        self.path = os.path.join(output_dir, "metrics.csv")
        self.tb = None
        self._logged: set[tuple[str, str]] = set()  # (step, split) of the rows in the file
        if not enabled:
            return
        if resume_step is not None and os.path.isfile(self.path):
            # Rows logged after the checkpoint we resume from will be logged again: drop them.
            with open(self.path, newline="", encoding="utf-8") as fh:
                rows = [
                    {k: v for k, v in r.items() if k in CSV_COLUMNS}
                    for r in csv.DictReader(fh)
                    if _complete(r) and int(r["step"]) <= resume_step
                ]
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(self.path, buf.getvalue())
            self._logged = {(str(r["step"]), r.get("split") or "") for r in rows}
        elif not os.path.isfile(self.path):
            self._write_header()
        if tensorboard != "off":
            try:
                self.tb = _EventsFile(os.path.join(output_dir, "tb"), resume_step)
            except ImportError:
                if tensorboard == "on":
                    raise RuntimeError(
                        "--tensorboard on: tensorboard is not installed (pip install tensorboard)"
                    ) from None

    def log(self, step: int, split: str, values: dict) -> None:
        if not self.enabled:
            return
        row = {"step": step, "split": split}
        row.update({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in values.items() if k in CSV_COLUMNS})
        key = (str(step), split)
        if not os.path.isfile(self.path):  # deleted under the live run: a new file with its header
            print(
                f"[sympo-train] {self.path} was deleted while the run was live: recreated it with its header "
                f"(the {len(self._logged)} row(s) logged before are gone; it goes on from step {step})",
                file=sys.stderr,
                flush=True,
            )
            self._logged = set()
            self._write_header()
        if key in self._logged:
            self._drop_rows(key)
        try:
            with open(self.path, "a", newline="", encoding="utf-8") as fh:
                csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n").writerow(row)
        except OSError as e:
            raise write_failure(self.path, e) from None
        self._logged.add(key)
        if self.tb is not None:
            scalars = {f"{split}/{k}": v for k, v in values.items() if isinstance(v, (int, float)) and k != "epoch"}
            self.tb.add_scalars(scalars, step)

    def _write_header(self) -> None:
        try:
            with open(self.path, "w", newline="", encoding="utf-8") as fh:
                csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n").writeheader()
        except OSError as e:
            raise write_failure(self.path, e) from None

    def _drop_rows(self, key: tuple[str, str]) -> None:
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if (r.get("step"), r.get("split")) != key]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buf.getvalue())

    def close(self) -> None:
        self.tb = None  # every event is on disk already (written and closed per row)


def read_metrics(output_dir: str) -> list[dict]:
    """The rows of OUTPUT_DIR/metrics.csv (numbers parsed) -- for tests and notebooks."""
    path = os.path.join(output_dir, "metrics.csv")
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parsed = {}
            for k, v in row.items():
                if v in ("", None):
                    continue
                try:
                    parsed[k] = int(v) if k == "step" else float(v)
                except ValueError:
                    parsed[k] = v
            out.append(parsed)
    return out
