"""`builtin:k8s-rules`: a deterministic Kubernetes diagnostician used when no language model is reachable.

It is NOT a language model and never claims to be one: it runs read-only kubectl commands through the same
guarded Shell tool an LLM agent uses and makes two judgments that never decide each other: the cause (which
may honestly be "unknown"), and, for each change it can make, whether that change's own preconditions are
proven from the raw objects and nothing contraindicates it. Every answer names `builtin:k8s-rules`.

Where things are:
  objects      the Observation and the small facts every module asks of Kubernetes objects (a leaf module)
  reads        kubectl plumbing: concurrent rounds over the toolbox's shell(), reads started early (prefetch), JSON,
               "not read" reasons
  gather       what to read for an incident (the named object, what it depends on, the controller of its pods)
  pod_reads    the pods' rounds: ReplicaSets or ControllerRevisions, usage, events, logs (which containers), claims,
               history
  history      the one entry point for a metrics history source (`use_history_source`)
  revisions    a workload's revision history (a Deployment's ReplicaSets, a DaemonSet's or StatefulSet's
               ControllerRevisions) and what the newest template changed
  outdated     pods a DaemonSet or StatefulSet left on an outdated revision and will not replace itself (OnDelete,
               an OrderedReady rolling update blocked by the pod): deleting them is the change
  detectors/   causes by domain: workloads, scheduling, storage, networking, nodes, jobs, configuration,
               disruptions (PodDisruptionBudgets, blocked drains), stalls (hung or exhausted processes), releases
               (pods left on an outdated ControllerRevision)
  inventory    every anomaly in what was read ("nothing wrong" only when it is empty)
  facts        facts proven from the objects, quoted (what preconditions are made of)
  process      facts from logs and container settings (silent logs, exhausted descriptors or pools, JVM heap vs limit,
               every request worker taken, a dependency out of connection slots)
  placement    where a pod template may not run (taints against tolerations, nodeSelector): nodes a DaemonSet leaves out
  budgets      PodDisruptionBudgets over pods (a pod two budgets select cannot be evicted; deletes within the budgets)
  stale        state a running process took at start that changed since (env or a subPath file from a ConfigMap or
               Secret written later, a Service recreated with a new ClusterIP, a ServiceAccount token past its lifetime,
               pooled connections to a demoted database)
  podlocal     faults of one pod a new pod does not have (a claim's file system resize waiting for a pod restart, one
               pod failing among healthy siblings of the same template)
  release      facts about a workload's newest revision (what it changed, whether failures began with it)
  release_scope  whether a failure lies in what the release changed (not a registry or shared state the old pods meet)
  undo         the rollout undo's checks (any workload with revisions)
  actions      the table: each change with its preconditions and contraindications, and the decision
  diagnose     cause + inventory + decision + severity from impact -> the diagnostic contract
  remediate    the approved action -> one guarded change, then verification
  report       post-incident Markdown counted from incident records
  engine       `RulesEngine`, the Engine the agent runtime calls (task from the output contract)
"""

from __future__ import annotations

MODEL = "builtin:k8s-rules"
SOURCE = "rules"
BANNER = "[builtin:k8s-rules: deterministic detectors over kubectl output, no language model]"
