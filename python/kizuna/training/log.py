"""Per-epoch training log (CSV, one row per epoch; header names and units in the columns)."""
from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["epoch", "stage", "lr", "train_loss", "train_energy_rmse_meV_atom",
           "train_forces_rmse_eV_A", "val_loss", "val_energy_rmse_meV_atom",
           "val_energy_mae_meV_atom", "val_forces_rmse_eV_A", "val_forces_mae_eV_A",
           "val_stress_rmse_GPa", "best", "seconds", "rss_MB"]


class CsvLog:
    """Append rows; on resume, rows of epochs after the checkpoint are dropped first."""

    def __init__(self, path, keep_epochs: int = None):
        self.path = Path(path)
        rows = []
        if keep_epochs is not None and self.path.is_file():
            with open(self.path) as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["epoch"]) <= keep_epochs]
        with open(self.path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def append(self, row: dict):
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, COLUMNS).writerow({k: row.get(k, "") for k in COLUMNS})
            handle.flush()


def read_log(path) -> list:
    with open(path) as handle:
        return list(csv.DictReader(handle))
