"""What aof-airflow knows about the services it talks to, kept out of the generic code: PagerDuty's REST
API (pagerduty.py), the per-host API profiles the HTTP node looks up (api_profiles.py), and how an event's
text is made carriable by every node (event_text.py)."""
