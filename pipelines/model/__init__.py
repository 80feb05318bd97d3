"""Training and scoring: model frames, XGBoost training, scoring with the model's own categories, metrics, slices."""
