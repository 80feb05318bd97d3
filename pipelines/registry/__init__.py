"""The pipeline's stores: MLflow model versions and their lineage, the promotion ledger, locks and the tables behind them.

Modules: ``db`` (the tables), ``ledger``, ``locks``, ``lineage`` (why a version exists), ``versions`` (MLflow).
"""
