"""Drift in production inputs: statistics against the champion's training profile and the monitor that acts on them.

Modules: stats, confirmation, history, monitor.
"""
