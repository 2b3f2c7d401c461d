"""Flow documents the relay serves in its tests, shared by the unit and the integration tests."""

from __future__ import annotations

# PagerDuty's v3 webhooks: the signature is checked against PD_TEST_SIGNING_SECRET (a comma-separated list).
V3_FLOW = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: pd-v3-flow}
spec:
  trigger:
    type: Webhook
    config:
      path: /pagerduty/v3
      auth: {type: PagerDutySignature, secret: "${PD_TEST_SIGNING_SECRET}"}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""

# a flow that runs again when its incident is reopened (signed like V3_FLOW)
REOPEN_FLOW = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: pd-reopen-flow}
spec:
  trigger:
    type: PagerDuty
    config:
      path: /pagerduty/reopen
      webhook_secret: "${PD_TEST_SIGNING_SECRET}"
      events: [incident.triggered, incident.reopened]
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""
