"""The pipeline's stores: MLflow model versions and their lineage, the promotion ledger, locks and the tables behind them.

Modules: ``db`` (the tables), ``ledger``, ``locks``, ``lineage`` (why a version exists), ``versions`` (MLflow),
``version_info`` (a version and its tags), ``mlflow_tables`` (reads and alias moves straight in MLflow's tables).
"""
