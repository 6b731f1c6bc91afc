"""Errors of the core, each with a stable code.

Messages name fields, positions and counts, never the caller's text: every input to this
service is patient data.
"""

from __future__ import annotations


class InputError(ValueError):
    """A caller's mistake: the same input will always fail the same way."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ModelFolderError(RuntimeError):
    """A model folder that is missing, incomplete or inconsistent with its manifest."""


class ModelNotReady(RuntimeError):
    """The model is not loaded (yet, or any more): retrying later may succeed."""


class Overloaded(RuntimeError):
    """The inference queue is full: shed the request (retrying later may succeed)."""
