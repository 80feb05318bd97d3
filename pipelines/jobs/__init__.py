"""Whole jobs chained from the stages: a retrain run and backfills through Airflow's REST API."""
