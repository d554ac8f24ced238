"""personalab: a workbench for behavioural-personalisation ML.

One package per pipeline stage (``ingest``, ``features``, ``segments``, ``intent``,
``recommend``, ``export``), each named like its notebook and params file, with one module
per concern inside; ``core`` holds the stage machinery every stage shares and ``evaluation``
the metrics. Importing ``personalab`` does nothing but define names.
"""

__version__ = "0.1.0"
