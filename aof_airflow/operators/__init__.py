"""The node operators. Each reads the outputs of the ancestors it names (one XCom each), checks the node's `conditions`
(skipped when none holds), renders its `${...}` templates with aof_airflow.templating, then does one job:

  transform.py    TransformOperator     bash; values only as env; exports -> output (flow variables)
  conditional.py  ConditionalOperator   {name: bool} or bool
  slack.py        SlackMessageOperator  SlackHook chat.postMessage (mrkdwn) -> {channel, ts, permalink}
  approval.py     ApprovalNodeSensor    approvals.sensor.SlackApprovalSensor + the node semantics
  http.py         HttpNodeOperator      HttpHook; Connection per host; its API profile (headers, rate limit); escaping
  agent.py        AgentOperator         agent.runtime.run_agent -> contract output, `aof_meta` XCom (named or inline agent)
  script.py       ScriptOperator        AOF's Script: bash `command` (as Transform) or native kubectl/http/json/docker/file
  wait.py         WaitOperator          deferred on the triggerer (TimeDeltaTrigger), no worker slot
  parallel.py     ParallelOperator      fan-out point; join.py JoinOperator: all/any/majority by trigger rule
  end.py          EndOperator           the path's result; response.py ResponseOperator: reply in Slack / keep as output
  (Approval / HumanApproval nodes build approval.py's ApprovalNodeSensor, like a Slack node with wait_for_reaction)
  escalation.py   Slack escalation when a node fails for good (on_failure_callback) or the run times out
  base.py         NodeMixin / NodeOperator: context, conditions, secret masking
"""
