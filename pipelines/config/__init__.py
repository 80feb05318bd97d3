"""Settings from the environment and the typed model config read from YAML (the floor every stage stands on)."""
