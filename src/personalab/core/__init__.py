"""The machinery every stage shares: project paths, params validation, atomic storage,
MLflow tracking, the model registry's champion rule and the error base class."""
