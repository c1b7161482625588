"""Progress display and text log of long runs (``kizuna train`` and ``kizuna learn``).

One convention for both commands (``output.progress`` / ``--progress``):

* ``bar``  -- a live tqdm bar on the terminal (epochs or MD steps, with rate and ETA); event
  lines (epochs, labels, messages) are printed above it;
* ``line`` -- plain lines for batch jobs and files (no carriage returns): one per epoch or
  event, and for ``kizuna learn`` a status line at most every ``KIZUNA_PROGRESS_INTERVAL``
  seconds (default 30), each with the rate and the estimated time left;
* ``none`` -- nothing on the terminal;
* ``auto`` -- ``bar`` on a terminal, ``line`` otherwise.

``epoch`` (train's former name of ``line``) is accepted. Whatever the mode, every line also
goes, time-stamped, to the run folder's text log (``train.log`` / ``learn.log``) once
:meth:`Progress.log_to` has been called.
"""
from __future__ import annotations

import logging
import os
import sys
import time

MODES = ("auto", "bar", "line", "none")
ALIASES = {"epoch": "line"}
#: seconds between two redraws of the bar (KIZUNA_PROGRESS_REDRAW; 0: every update)
REDRAW_SECONDS = float(os.environ.get("KIZUNA_PROGRESS_REDRAW", "0.1"))
#: seconds between two status lines in ``line`` mode (KIZUNA_PROGRESS_INTERVAL)
LINE_SECONDS = float(os.environ.get("KIZUNA_PROGRESS_INTERVAL", "30"))


def resolve_mode(mode: str, stream) -> str:
    mode = ALIASES.get(mode, mode)
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        mode = "bar" if getattr(stream, "isatty", lambda: False)() else "line"
    return mode


def format_seconds(seconds: float) -> str:
    from tqdm import tqdm

    return tqdm.format_interval(max(0.0, seconds))


class Progress:
    """Counter of a run (epochs or MD steps) shown as ``mode`` says, plus the text log."""

    def __init__(self, mode="auto", stream=None, unit="epoch"):
        self.stream = stream or sys.stderr
        self.mode = resolve_mode(mode, self.stream)
        self.unit = unit
        self._bar = None
        self._log = None
        self._total = self._done = self._first = 0
        self._t0 = time.monotonic()
        self._last_line = self._t0
        self._last_redraw = 0.0

    # ---------------------------------------------------------------------------- log file
    def log_to(self, path) -> None:
        """Append every line, time-stamped, to ``path`` (a text log in the run folder)."""
        if self._log is not None:
            self.close_log()
        logger = logging.Logger(f"kizuna.progress.{id(self)}", logging.INFO)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(handler)
        self._log = logger

    def close_log(self) -> None:
        if self._log is not None:
            for handler in list(self._log.handlers):
                handler.close()
                self._log.removeHandler(handler)
            self._log = None

    def _record(self, text: str) -> None:
        if self._log is not None:
            self._log.info(text)

    # ---------------------------------------------------------------------------- counter
    def start(self, total: int, done: int = 0, desc: str = "") -> None:
        """A run of ``total`` units of which ``done`` were done before (a resumed run); the
        rate and ETA count only this session's units."""
        self._total, self._done, self._first = int(total), int(done), int(done)
        self._t0 = time.monotonic()
        self._last_line = self._t0
        if self.mode == "bar":
            from tqdm import tqdm

            self.close_bar()
            self._bar = tqdm(total=total, initial=done, desc=desc, unit=self.unit,
                             file=self.stream, mininterval=REDRAW_SECONDS, dynamic_ncols=True,
                             leave=False)

    def rate_text(self) -> str:
        """'<rate>, <elapsed> elapsed, ETA <time left>' of this session."""
        elapsed = time.monotonic() - self._t0
        n = self._done - self._first
        if n <= 0 or elapsed <= 0:
            return f"{format_seconds(elapsed)} elapsed"
        per = elapsed / n
        rate = f"{per:.3g} s/{self.unit}" if per >= 1 else f"{1 / per:.3g} {self.unit}s/s"
        left = max(0, self._total - self._done) * per
        return f"{rate}, {format_seconds(elapsed)} elapsed, ETA {format_seconds(left)}"

    def advance(self, done: int, status: str = "") -> None:
        """The counter is now ``done``; ``status`` is a short live text (the bar's postfix;
        with rate and ETA at most every LINE_SECONDS in the log, and printed in line mode)."""
        step = done - self._done
        self._done = done
        if self._bar is not None:
            if status:
                self._bar.set_postfix_str(status, refresh=False)
            self._bar.update(step)
        now = time.monotonic()
        if status and now - self._last_line >= LINE_SECONDS:
            # every LINE_SECONDS: a status line in the log, and on the terminal in line mode
            self._last_line = now
            line = f"{status} | {self.rate_text()}"
            self._record(line)
            if self.mode == "line":
                self._print(line)

    # ---------------------------------------------------------------------------- lines
    def _print(self, text: str) -> None:
        if self.mode == "none":
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """An event line: on the terminal (above the bar) and in the log."""
        self._record(text)
        self._print(text)

    def note(self, text: str) -> None:
        """A line for the log only."""
        self._record(text)

    def batch(self, epoch, epochs, stage, done, total, energy_rmse, forces_rmse):
        """Live update inside a training epoch (bar mode: the bar's postfix, redrawn at most
        every REDRAW_SECONDS and at the last batch)."""
        if self._bar is None:
            return
        now = time.monotonic()
        if done < total and now - self._last_redraw < REDRAW_SECONDS:
            return
        self._last_redraw = now
        self._bar.set_postfix_str(f"{stage} epoch {epoch + 1}/{epochs} batch {done}/{total} "
                                  f"E {energy_rmse * 1000:.2f} meV/atom F {forces_rmse:.4f} eV/Å")

    def epoch(self, text: str, done: int = None) -> None:
        """A finished epoch: the bar moves on; the line (with rate and ETA) is printed and
        logged."""
        if done is not None:
            self._done = done
            if self._bar is not None:
                self._bar.n = done
                self._bar.refresh()
        line = f"{text} | {self.rate_text()}" if done is not None else text
        self._record(line)
        if self._bar is None:
            self._print(line)
        else:
            self._print(text)

    def close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self.close_bar()
        self.close_log()
