"""The pipeline's stores: MLflow model versions, the promotion ledger, locks and the tables behind them."""
