"""Errors a user can act on (bad parameters, unreadable sources, too much bad data).

They share the base :class:`InputError`. In notebooks, :func:`brief_input_errors`
makes IPython show them as one message instead of a stack trace, so a stage run by
``dvc repro`` ends with the sentence that says what to fix. Any other exception is
a bug, and keeps its full traceback.
"""

from __future__ import annotations

from typing import Any


class InputError(Exception):
    """Base of every error caused by the user's input rather than by personalab."""


def brief_input_errors() -> None:
    """In IPython, show :class:`InputError` as ``Name: message`` with no traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def show(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        # the kernel still reports an error (so papermill and DVC stop), with one line of text
        shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])

    shell.set_custom_exc((InputError,), show)
