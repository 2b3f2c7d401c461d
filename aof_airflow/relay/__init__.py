"""The webhook relay: PagerDuty (or curl) in, Airflow DAG runs out, nothing lost, nobody else in.

    request -> app.py (route by flow trigger path, method, Bearer, content type, size)
            -> service.Relay.admit (signature, parse + normalize, event type) [-> queue_size check]
            -> outbox insert, group-committed with the webhooks arriving alongside (group_commit.py)
            -> 202 -> dispatcher.Dispatcher (thread) -> airflow_rest (POST dagRuns, dag_run_id pd-<incident>)

Run it: `aofctl relay --host 127.0.0.1 --port 8088 [--flows DIR]`, or in the Airflow api-server at
`/aof/relay/...` (plugin). Settings (`[aof]` / `AOF_*`): airflow_api_url, airflow_username,
airflow_password (or Connection `aof_airflow_api`), relay_database_url, relay_sqlite_synchronous,
pagerduty_api_key (or PAGERDUTY_API_KEY / Connection `pagerduty_api`), pagerduty_api_url,
pagerduty_signing_secret (comma-separated), relay_max_body_bytes, relay_backoff_max_seconds,
relay_dispatch_workers, relay_dispatch_rate_while_receiving,
relay_mount, relay_url_prefix, relay_url (for `aofctl flow trigger`).
"""
