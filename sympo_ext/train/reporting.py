"""What the trainer tells the user on stderr (``[sympo-train] ...``, main process only), and the
graceful-stop signal handling (SIGINT / SIGTERM: finish the step, save, exit)."""

from __future__ import annotations

import signal
import sys
import threading

__all__ = ["Reporter", "StopSignals", "StepProgress", "ignore_late_signals"]


class Reporter:
    """Prints ``[sympo-train] message`` to stderr on the main process (``is_main`` is read at each
    call: before the process group exists every process counts as the main one)."""

    def __init__(self, is_main=lambda: True):
        self._is_main = is_main

    def __call__(self, message: str, *, newline_first: bool = False) -> None:
        if self._is_main():
            print(f"{chr(10) if newline_first else ''}[sympo-train] {message}", file=sys.stderr, flush=True)


class StepProgress:
    """The tqdm bar of the training steps (stderr; a no-op when not ``enabled``), showing the loss and
    the accuracies against the given and (when known) the true labels."""

    def __init__(self, total: int, *, initial: int = 0, desc: str = "sympo-train", enabled: bool = True):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, file=sys.stderr)

    def update(self, metrics: dict) -> None:
        if self.bar is None:
            return
        post = {"loss": f"{metrics['loss']:.4f}", "acc": f"{metrics['rewards/accuracies']:.2f}"}
        if "rewards/true_accuracies" in metrics:
            post["true_acc"] = f"{metrics['rewards/true_accuracies']:.2f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class StopSignals:
    """While installed (``with``): the first SIGINT/SIGTERM sets :attr:`received` (the loop finishes
    its step, saves and exits); a second one aborts at once (KeyboardInterrupt). Installed only
    when ``enabled`` and on the main thread (signal handlers live there). Once :attr:`finishing`
    is set (the training steps are over: the final evaluation, checkpoint and model are being
    written), a first signal lets that finish and the run end normally."""

    def __init__(self, report: Reporter, *, enabled: bool = True):
        self.report = report
        self.enabled = enabled
        self.received: int | None = None
        self.finishing = False
        self._previous: dict = {}

    def _on_signal(self, signum, frame):
        if self.received is not None:  # second signal: stop now
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        self.received = signum
        if self.finishing:
            what = "the training steps are done: writing the final results, then exiting normally"
        else:
            what = "finishing this step, saving a checkpoint and exiting"
        self.report(
            f"{signal.Signals(signum).name} received: {what} (send it again to abort without saving)",
            newline_first=True,
        )

    def __enter__(self):
        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        return False


def ignore_late_signals(report: Reporter) -> None:
    """For the rest of the process: a SIGINT / SIGTERM is reported and ignored (the CLI installs this
    before the run: the trainer's own handlers replace it while it runs and restore it when it ends,
    so that a signal after the run has ended cannot turn its exit status into 130 / 143)."""

    def late(signum, frame):
        report(f"{signal.Signals(signum).name} received after the run ended: ignored (exiting)", newline_first=True)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, late)
