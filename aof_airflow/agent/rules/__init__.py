"""`builtin:k8s-rules`: a deterministic Kubernetes diagnostician used when no language model is reachable.

It is NOT a language model and never claims to be one: it runs read-only kubectl commands through the same
guarded Shell tool an LLM agent uses, parses the JSON, and applies one detector per known failure class
(CrashLoopBackOff, OOMKilled, image pulls, unschedulable pods, ...). Every answer names `builtin:k8s-rules`.

Modules: `gather` (kubectl -> Observation), `detectors` (Observation -> Findings), `diagnose` (Findings ->
the diagnostic contract), `remediate` (recommended action -> guarded mutation + verification), `report`
(post-incident Markdown), `engine` (`RulesEngine`, the `Engine` the agent runtime calls).
"""

from __future__ import annotations

MODEL = "builtin:k8s-rules"
SOURCE = "rules"
BANNER = "[builtin:k8s-rules: deterministic detectors over kubectl output, no language model]"
