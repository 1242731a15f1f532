"""Sandboxes for model-written code.

This package defines the contract the envs code against; the Docker backend with its warm pool
lands with the code env.  Nothing here runs code yet.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel


class ExecResult(BaseModel):
    stdout: str
    stderr: str
    exit_code: int
    duration: float
    timed_out: bool = False


class Sandbox(Protocol):
    """Runs untrusted code: no network, bounded memory/pids/CPU/output, non-root, fresh workspace."""

    def run(self, code_or_cmd: str, timeout: float, files: dict[str, bytes] | None = None) -> ExecResult: ...

    def close(self) -> None: ...
