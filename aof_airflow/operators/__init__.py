"""The node operators. Each reads the outputs of the ancestors it names (one XCom each), checks the node's `conditions`
(skipped when none holds), renders its `${...}` templates with aof_airflow.templating, then does one job:

  transform.py    TransformOperator     bash; values only as env; exports -> output (flow variables)
  conditional.py  ConditionalOperator   {name: bool} or bool
  slack.py        SlackMessageOperator  SlackHook chat.postMessage (mrkdwn) -> {channel, ts, permalink}
  approval.py     ApprovalNodeSensor    approvals.sensor.SlackApprovalSensor + the node semantics
  http.py         HttpNodeOperator      HttpHook; Connection per host; its API profile (headers, rate limit); escaping
  agent.py        AgentOperator         agent.runtime.run_agent -> contract output, `aof_meta` XCom
  escalation.py   Slack escalation when a node fails for good (on_failure_callback) or the run times out
  base.py         NodeMixin / NodeOperator: context, conditions, secret masking
"""
