"""The project's error types: what the `tdmm` command prints as one line (docs/ARCHITECTURE.md,
"The error policy").

An `InputError` is a bad input or output the user named (a file, a folder, an argument's
value): its message reads `<input>: <problem>. <what to do>`, and the CLI prints it as
`tdmm <command>: error: <message>` and exits 1. Every loader's own error (ClipError,
HeadError, DatasetError ...) is one, so one `except InputError` catches them all; they stay
ValueErrors for code written before this module.
"""
from __future__ import annotations


class InputError(ValueError):
    """InputError(input, problem, fix) or InputError(message) when the message is ready-made."""

    def __init__(self, what, problem: str | None = None, fix: str | None = None):
        if problem is None:
            message = str(what)
        else:
            fix = (fix[:1].upper() + fix[1:]) if fix else ""
            message = f"{what}: {problem.rstrip('.')}." + (f" {fix}" if fix else "")
        super().__init__(message)


class OutputError(InputError):
    """An output target that cannot be written as asked (a clash, a missing or unwritable parent)."""
