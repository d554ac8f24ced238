"""The machinery every stage shares: project paths, params validation, atomic storage,
MLflow tracking, the model registry's champion rule, the code a model folder bundles, stage
statuses and the error base class. Every model folder bundles this package whole
(:mod:`personalab.core.code`); tools that no stage runs live in :mod:`personalab.tools`."""
