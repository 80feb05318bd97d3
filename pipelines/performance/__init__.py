"""How the champion performs after promotion: batch scoring into a predictions table, realized metrics once
labels arrive, estimated metrics (CBPE) before they do, and when decay calls for a retrain.

Modules: cbpe.
"""
