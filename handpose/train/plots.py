"""Training curves drawn as an image (redrawn after every epoch)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write


def plot_curves(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def col(name):
        return [float(r[name]) if r.get(name) not in ("", None) else float("nan") for r in rows]

    epochs = col("epoch")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(epochs, col("train_loss"), "o-", ms=3)
    axes[0].set_yscale("log")
    axes[0].set_title("train loss (heatmap MSE)")
    axes[1].plot(epochs, col("AUC"), "o-", ms=3, label="AUC 0-30 px")
    axes[1].plot(epochs, col("PCK@0.2"), "s-", ms=3, label="PCK@0.2")
    axes[1].plot(epochs, col("AUC_norm"), "^--", ms=3, label="AUC 0-0.2 of box")
    auc = np.array(col("AUC"))
    if np.isfinite(auc).any():  # the epoch best.pt holds
        best = int(np.nanargmax(auc))
        for ax in axes:
            ax.axvline(epochs[best], color="0.6", ls=":", lw=1)
        axes[1].set_title(f"validation (best AUC {auc[best]:.3f} at epoch {epochs[best]:g})")
    axes[1].set_ylim(0, 1)
    axes[1].legend()
    if not axes[1].get_title():
        axes[1].set_title("validation")
    axes[2].plot(epochs, col("EPE"), "o-", ms=3, color="C3")
    axes[2].set_title("validation EPE (px)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)
