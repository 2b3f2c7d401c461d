"""The opt-in sandbox: local servers speaking the real Slack Web API, PagerDuty REST API v2 and
Kubernetes API, so the real clients (slack_sdk, httpx/requests, kubectl) run unchanged when no
real credentials exist. Used by `make demo` and as the tests' stand-ins; never the product's path.
"""
