"""personalab: a workbench for behavioural-personalisation ML.

Importing the package does nothing but define names; every stage's logic lives
in its own module (``synth``, ``sources``, ``events``, ``sessions``, ``ingest``)
and the shared stage machinery in ``paths``, ``params``, ``io`` and ``tracking``.
"""

__version__ = "0.1.0"
