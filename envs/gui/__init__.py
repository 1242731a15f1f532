"""The GUI family: synthetic apps in headless Chromium, live (GUI-v0) and from recorded traces (GUITrace-v0)."""
