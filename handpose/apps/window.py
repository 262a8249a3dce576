"""The live window: OpenCV's own where the installed build has one, otherwise a Tk window.

The package installs OpenCV's headless build, so that servers and containers without a display or GUI
libraries import it; that build has no window. Python's own Tk draws the frames instead (Tk reads PPM images
directly, so nothing else is needed), which makes `python main.py` open its window on a desktop with the
install the README gives. Keys work the same in both: q or Esc quits, s saves a snapshot, m mirrors.
"""
from __future__ import annotations

import os
import re
import sys

import cv2
import numpy as np

from ..errors import HandposeError


def opencv_has_gui() -> bool:
    m = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.M)
    return not (m and m.group(1).upper() == "NONE")


def tk_problem() -> str | None:
    try:
        import tkinter  # noqa: F401
    except ImportError:
        return "this Python has no Tk (tkinter)"
    return None


def gui_problem() -> str | None:
    """Why no window can be shown here, or None."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "there is no display ($DISPLAY is not set)"
    if not opencv_has_gui() and (problem := tk_problem()):
        return f"this OpenCV build has no window support (opencv-python-headless) and {problem}"
    return None


class OpenCVWindow:
    def __init__(self, title: str):
        self.title = title

    def show(self, bgr: np.ndarray) -> int:
        """Show a frame; the key pressed since the last frame (-1: none)."""
        cv2.imshow(self.title, bgr)
        return cv2.waitKey(1) & 0xFF

    def close(self) -> None:
        cv2.destroyAllWindows()


class TkWindow:
    """A Tk window that shows BGR frames as they come; closing it counts as q."""

    def __init__(self, title: str):
        import tkinter

        self.root = tkinter.Tk()
        self.root.title(title)
        self.label = tkinter.Label(self.root)
        self.label.pack()
        self.keys: list[int] = []
        self.root.bind("<Key>", lambda e: self.keys.append(ord(e.char) if e.char else -1))
        self.root.protocol("WM_DELETE_WINDOW", lambda: self.keys.append(ord("q")))
        self.photo = None

    def show(self, bgr: np.ndarray) -> int:
        import tkinter

        h, w = bgr.shape[:2]
        ppm = b"P6 %d %d 255\n" % (w, h) + np.ascontiguousarray(bgr[..., ::-1]).tobytes()
        self.photo = tkinter.PhotoImage(data=ppm, format="PPM")  # kept: Tk shows it only while referenced
        self.label.configure(image=self.photo)
        self.root.update()
        return self.keys.pop(0) if self.keys else -1

    def close(self) -> None:
        try:
            self.root.destroy()
        except Exception:  # already closed with the window
            pass


def open_window(title: str) -> OpenCVWindow | TkWindow:
    if opencv_has_gui():
        return OpenCVWindow(title)
    import tkinter

    try:
        return TkWindow(title)
    except tkinter.TclError as e:  # a $DISPLAY that no server answers
        raise HandposeError(f"cannot open a window ({e})") from None
