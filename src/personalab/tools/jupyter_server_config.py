"""Jupyter server config of ``make lab``: stage notebooks are saved without outputs
(:mod:`personalab.tools.notebooks`)."""

from personalab.tools.notebooks import strip_before_save

c = get_config()  # noqa: F821 - defined by Jupyter when it loads this file
c.ContentsManager.pre_save_hook = strip_before_save
