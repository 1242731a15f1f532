"""The GUI env family: synthetic apps in headless Chromium (``GUI-v0``), their recorded traces
(``GUITrace-v0``), MiniWoB++ under the same actions (``MiniWoB-v0``), the GUI-R1 reward, oracles."""
