"""Whole jobs chained from the stages.

Modules: steps (one function per stage, called by the CLI chain and every DAG task), retrain (the CLI's chain),
monitor (a drift check against the champion, recorded and logged), backfill (through Airflow's REST API).
"""
