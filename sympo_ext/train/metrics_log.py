"""The metrics logger: CSV (always), TensorBoard (when installed), with TRL's names."""

from __future__ import annotations

import csv
import io
import os

from ..metrics import METRIC_NAMES
from .checkpoint_files import atomic_write_text

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
            with open(self.path, "w", newline="", encoding="utf-8") as fh:
                csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n").writeheader()
        if tensorboard != "off":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                if tensorboard == "on":
                    raise RuntimeError(
                        "--tensorboard on: tensorboard is not installed (pip install tensorboard)"
                    ) from None
            else:
                self.tb = SummaryWriter(os.path.join(output_dir, "tb"), purge_step=resume_step)

    def log(self, step: int, split: str, values: dict) -> None:
        if not self.enabled:
            return
        row = {"step": step, "split": split}
        row.update({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in values.items() if k in CSV_COLUMNS})
        key = (str(step), split)
        if key in self._logged:
            self._drop_rows(key)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n").writerow(row)
        self._logged.add(key)
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and k not in ("epoch",):
                    self.tb.add_scalar(f"{split}/{k}", v, step)

    def _drop_rows(self, key: tuple[str, str]) -> None:
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if (r.get("step"), r.get("split")) != key]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buf.getvalue())

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
            self.tb = None


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
