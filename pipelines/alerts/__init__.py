"""Slack alerts: message text and delivery.

- ``mrkdwn``: ``SlackMessage``, escaping per Slack's mrkdwn rules, links, Block Kit blocks within Slack's limits.
- ``webhook``: ``SlackWebhook`` delivery (retries, ``Retry-After``, one deadline, a secret URL), ``WebhookError``.
- ``webhook_settings``: the webhook from ``SLACK_WEBHOOK_URL`` or an Airflow connection (read in a subprocess).
- ``probe``: ``check_alerts`` for ``python -m pipelines alerts test``.
- ``links``: Airflow UI pages (a task's log, its approval request) and Data Docs pages.
- ``event_messages``: the message for each pipeline event (quality gate, warnings, failure, drift, rollback, approval).
- ``alert_choice``: ``retrain_alert``, which alert (if any) a retrain run's outcome calls for.
"""
