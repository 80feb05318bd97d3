"""Settings and the typed model config read from YAML (the floor every stage stands on).

Modules: settings, base, data_sections, training_sections, quality_sections, drift, model, loading.
"""
