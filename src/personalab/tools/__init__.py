"""What people run around the pipeline, and no stage or model imports: the model and tracking
servers (``server``), the params presets (``python -m personalab.tools.presets``) and the
JupyterLab save hook of ``make lab`` (``notebooks``, ``jupyter_server_config``). Kept out of
``core`` because every model folder bundles ``core`` whole: an edit here re-runs no stage."""
