"""Slack alerts: message text and delivery."""
