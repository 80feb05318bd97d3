"""How the champion performs after promotion: batch scoring into a predictions table, realized metrics once
labels arrive, estimated metrics (CBPE) before they do, when decay calls for a retrain, and how often to retrain.

Modules: predictions, batch_score, cbpe, calibration, measure, store, decay, cadence.
"""
