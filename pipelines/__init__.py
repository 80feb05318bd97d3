"""Continuous training for tabular models: the library behind the Airflow DAGs (never imports airflow)."""
