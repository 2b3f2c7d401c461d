"""The lab: what tests and the local demo need and a deployment never runs.

`sandbox/` local stand-ins that speak Slack's, PagerDuty's and the Kubernetes API's real protocols (and refuse
what they refuse); `local/` real Airflow processes on one machine (`make demo`, the tests, the Celery
topology); `rules_eval/` the builtin:k8s-rules scenarios and their scorer; `cli/` the `aofctl demo`,
`aofctl sandbox` and `aofctl eval` commands, found by aofctl through the `aofctl.commands` entry points.
"""
