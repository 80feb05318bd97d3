"""Training and scoring: model frames, the XGBoost estimators, training on the local engine (``train``) or on a
Dask cluster (``dask_engine``, ``dask_cluster``, ``dask_split``, ``dask_scoring``), scoring with the model's own
categories, metrics, slices.
"""
