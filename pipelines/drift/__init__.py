"""Drift in production inputs: statistics against the champion's training profile, and when drift is confirmed.

Modules: stats, confirmation, history. The monitor job that runs a check is ``pipelines.jobs.monitor``.
"""
