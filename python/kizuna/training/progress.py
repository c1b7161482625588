"""Progress display: a one-line bar on a terminal (``bar``), one line per epoch (``epoch``)
or nothing (``none``); ``auto`` picks ``bar`` on a terminal, ``epoch`` otherwise."""
from __future__ import annotations

import os
import sys
import time

#: seconds between two redraws of the bar (KIZUNA_PROGRESS_INTERVAL; 0: every batch)
REDRAW_SECONDS = float(os.environ.get("KIZUNA_PROGRESS_INTERVAL", "0.1"))


class Progress:
    def __init__(self, mode="auto", stream=None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "epoch"
        self.mode = mode
        self._last = 0.0

    def batch(self, epoch, epochs, stage, done, total, energy_rmse, forces_rmse):
        """Live update inside an epoch (bar mode only, at most one per REDRAW_SECONDS)."""
        if self.mode != "bar":
            return
        now = time.monotonic()
        if done < total and now - self._last < REDRAW_SECONDS:
            return
        self._last = now
        width = 24
        fill = int(width * done / max(total, 1))
        text = (f"\r{stage} epoch {epoch + 1}/{epochs} [{'#' * fill}{'.' * (width - fill)}] "
                f"{done}/{total}  E {energy_rmse * 1000:7.2f} meV/atom  F {forces_rmse:7.4f} eV/Å")
        self.stream.write(text)
        self.stream.flush()

    def epoch(self, text: str):
        if self.mode == "none":
            return
        if self.mode == "bar":
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str):
        if self.mode != "none":
            self.stream.write(text + "\n")
            self.stream.flush()
