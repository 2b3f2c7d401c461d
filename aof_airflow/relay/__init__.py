"""The webhook relay: PagerDuty (or curl, or Slack) in, Airflow DAG runs out, nothing lost, nobody else in.

    request -> ingress.py (FastAPI dependencies on every route: route, method, Bearer, content type,
               body streamed under a cap, PagerDuty / Slack signature)
            -> webhooks.py / slack_events.py / slack_actions.py
            -> service.Relay.admit (parse + normalize, event type, service, run id per occurrence: run_ids.py,
               values bounded: bounds.py) [-> one run per target: signal_gate.py] [-> queue_size check]
            -> outbox insert, group-committed with the webhooks arriving alongside (group_commit.py)
            -> 202 -> dispatcher.Dispatcher (thread) [-> v3: custom details, then signal_gate.py]
            -> airflow_rest (POST dagRuns)
            -> what did not become a run: reports.py (readiness, metrics.py, Slack)

Run it: `aofctl relay --host 127.0.0.1 --port 8088 [--flows DIR]`, or in the Airflow api-server at
`/aof/relay/...` (plugin). Settings (`[aof]` / `AOF_*`): airflow_api_url, airflow_username,
airflow_password (or Connection `aof_airflow_api`), relay_database_url, relay_sqlite_synchronous,
pagerduty_api_key (or PAGERDUTY_API_KEY / Connection `pagerduty_api`), pagerduty_api_url,
pagerduty_signing_secret (comma-separated), relay_max_body_bytes, relay_backoff_max_seconds,
relay_dispatch_workers, relay_dispatch_rate_while_receiving, relay_slack_max_body_bytes,
relay_max_value_bytes, relay_max_conf_bytes, relay_stuck_after_seconds, relay_report_window_seconds,
relay_mount, relay_url_prefix, relay_url (for `aofctl flow trigger`).
"""
