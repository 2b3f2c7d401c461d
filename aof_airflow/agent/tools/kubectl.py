"""kubectl / helm guardrails: which verbs an agent may use, and which namespace it may touch.

Who may change things (the rule, in code):
- `ShellToolConfig.allowed_verbs` set: exactly those verbs (e.g. `[get, describe, logs, scale]`);
- not set: read-only verbs, plus the mutating ones when the agent is labelled `purpose: remediation`
  (the seed's remediation agent). So the diagnostic agent is read-only by default.

Namespace: the incident's (`AgentScope.namespace`) only, and a change only where the deployment lets automation
act (`guards.Limits.namespace_refusal`: kube-system and friends denied by default). `-A/--all-namespaces` and any other namespace are
refused; without a namespace flag, `--namespace=<scope>` is added explicitly, so the kubeconfig's current
context can never widen the scope. Mutations need a scope namespace, and never touch cluster-scoped kinds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aof_airflow.agent.tools.guards import Limits
from aof_airflow.agent.tools.shell import Refused
from aof_airflow.agent.types import AgentScope

READ_VERBS = {
    "get", "describe", "logs", "top", "explain", "events", "api-resources", "api-versions", "version",
    "rollout status", "rollout history", "cluster-info",
}
MUTATING_VERBS = {
    "apply", "patch", "delete", "scale", "rollout restart", "rollout undo", "rollout pause", "rollout resume",
    "set", "label", "annotate", "create", "replace", "autoscale", "expose",
}
# Never through the toolbox: interactive, tunnel, credential or cluster-wide operations.
NEVER_VERBS = {
    "exec", "cp", "port-forward", "proxy", "attach", "run", "debug", "edit", "config", "plugin", "auth",
    "certificate", "cordon", "uncordon", "drain", "taint", "kustomize", "wait", "alpha", "completion",
}
# Global flags that would switch cluster, identity or credentials away from the configured ones.
IDENTITY_FLAGS = {
    "--kubeconfig", "--context", "--cluster", "--user", "--token", "--as", "--as-group", "--as-uid", "--server",
    "-s", "--username", "--password", "--client-key", "--client-certificate", "--certificate-authority",
    "--insecure-skip-tls-verify", "--raw", "--request-timeout",
}
CLUSTER_KINDS = {
    "node", "nodes", "no", "namespace", "namespaces", "ns", "clusterrole", "clusterroles", "clusterrolebinding",
    "clusterrolebindings", "pv", "persistentvolume", "persistentvolumes", "storageclass", "storageclasses", "sc",
    "crd", "crds", "customresourcedefinition", "customresourcedefinitions", "mutatingwebhookconfiguration",
    "validatingwebhookconfiguration", "priorityclass", "priorityclasses",
}
# kubectl flags that take the next token as their value (to tell flags' values from positional arguments).
VALUE_FLAGS = {
    "-n", "--namespace", "-l", "--selector", "-f", "--filename", "-o", "--output", "-c", "--container",
    "--replicas", "-p", "--patch", "--type", "--field-selector", "--since", "--tail", "--sort-by", "--timeout",
    "--to-revision", "-k", "--kustomize", "--grace-period", "--current-replicas", "--revision", "--since-time",
    "--field-manager", "--image", "--port", "--target-port", "--name", "--min", "--max", "--cpu-percent",
    "--resource-version", "--limits", "--requests", "--local", "--template", "--show-managed-fields",
    "--dry-run", "--cascade", "--for", "--max-log-requests", "--pod-running-timeout", "--chunk-size", "-L",
    "--label-columns", "--containers", "--env", "-e", "--from",
}
PATCH_EQUIVALENT = {
    "rollout restart": lambda: {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": datetime.now(timezone.utc).isoformat(timespec="seconds")}}}}},
    "rollout pause": lambda: {"spec": {"paused": True}},
    "rollout resume": lambda: {"spec": {"paused": False}},
}
HELM_READ = {"list", "ls", "status", "history", "get", "show", "version", "search", "env"}
HELM_MUTATING = {"upgrade", "install", "rollback", "uninstall", "delete", "del", "un"}


@dataclass
class KubePolicy:
    verbs: set[str]

    @classmethod
    def for_agent(cls, allowed_verbs: list[str] | None, labels: dict[str, str]) -> KubePolicy:
        if allowed_verbs is not None:
            return cls(set(allowed_verbs))
        if labels.get("purpose", "").lower() == "remediation":
            return cls(READ_VERBS | MUTATING_VERBS)
        return cls(set(READ_VERBS))

    @property
    def may_mutate(self) -> bool:
        return bool(self.verbs & MUTATING_VERBS)

    def allows(self, verb: str) -> bool:
        # `rollout restart` is allowed by listing it or by listing `rollout`.
        return verb in self.verbs or verb.split()[0] in self.verbs


@dataclass
class KubeCall:
    """A checked kubectl call: argv to run (namespace made explicit), its verb, and what it targets."""

    argv: list[str]
    verb: str
    mutating: bool
    namespace: str | None
    targets: list[str] = field(default_factory=list)  # positional targets, e.g. ["deployment/api"]
    selectors: list[str] = field(default_factory=list)  # flags selecting targets: -l x, -f file

    def snapshot_argv(self) -> list[str] | None:
        """`kubectl get <target> -o yaml` in the same namespace, or None if the target cannot be named."""
        if not (self.targets or self.selectors):
            return None
        ns = [f"--namespace={self.namespace}"] if self.namespace else []
        return ["kubectl", "get", *self.targets, *self.selectors, "-o", "yaml", *ns]

    def dry_run_argv(self) -> list[str]:
        """The server-side dry run of this change. `rollout restart/pause/resume` have no --dry-run flag, so
        their dry run is the exact patch they send (what `kubectl rollout restart` itself does)."""
        patch = PATCH_EQUIVALENT.get(self.verb)
        if patch is None:
            return [*self.argv, "--dry-run=server"]
        ns = [f"--namespace={self.namespace}"] if self.namespace else []
        return ["kubectl", "patch", *self.targets, "--type=strategic", "-p", json.dumps(patch()), *ns, "--dry-run=server"]


def check_kubectl(argv: list[str], policy: KubePolicy, scope: AgentScope) -> KubeCall:
    flags, positionals = _split(argv[1:])
    if not positionals:
        raise Refused("refused: kubectl needs a verb")
    verb = positionals[0]
    rest = positionals[1:]
    if verb in ("rollout", "set") and rest:  # `rollout restart deployment/x`, `set image deployment/x c=i`
        verb = f"rollout {rest[0]}" if verb == "rollout" else "set"
        rest = rest[1:]
    if verb.split()[0] in NEVER_VERBS:
        raise Refused(f"refused: `kubectl {verb}` is never allowed through the toolbox")
    mutating = verb in MUTATING_VERBS
    if not mutating and verb not in READ_VERBS:
        raise Refused(f"refused: unknown kubectl verb {verb!r}")
    if not policy.allows(verb):
        kind = "mutating verb" if mutating else "verb"
        raise Refused(f"refused: {kind} `kubectl {verb}` is not allowed for this agent (allowed: {sorted(policy.verbs)})")
    if any(a in ("-w", "--watch", "--watch-only", "--follow") or a.startswith("--watch=") for a in argv) or (
        verb == "logs" and any(a == "-f" or a.startswith("-f=") for a in argv)
    ):
        raise Refused("refused: watch/follow never ends; ask for a snapshot instead")
    for name, _value in flags:
        if name in IDENTITY_FLAGS:
            raise Refused(f"refused: {name} would switch cluster or identity; the configured kubeconfig is used")
        if name in ("-A", "--all-namespaces"):
            raise Refused("refused: --all-namespaces; this incident is scoped to one namespace")
        if mutating and name == "--all":
            raise Refused("refused: --all on a change; name the target")
        if mutating and name == "--dry-run":
            raise Refused("refused: --dry-run is added by the toolbox itself (server dry run, then the change)")
        if name in ("-k", "--kustomize", "--prune"):
            raise Refused(f"refused: {name} can touch resources outside the named target")
    namespaces = {v for n, v in flags if n in ("-n", "--namespace")}
    if len(namespaces) > 1:
        raise Refused("refused: several namespaces given")
    ns = next(iter(namespaces), None)
    if ns is not None and scope.namespace and ns != scope.namespace:
        raise Refused(f"refused: namespace {ns!r} is outside this incident's namespace {scope.namespace!r}")
    out = list(argv)
    if ns is None and scope.namespace:
        ns = scope.namespace
        end = out.index("--") if "--" in out else len(out)  # flags go before a `--` separator
        out.insert(end, f"--namespace={ns}")
    selectors = [part for n, v in flags if n in ("-l", "--selector", "-f", "--filename") for part in (n, v)]
    targets = _targets(rest)
    if mutating:
        if not scope.namespace:
            raise Refused("refused: a change needs the incident's namespace (no namespace in scope)")
        denied = Limits.from_settings().namespace_refusal(ns)
        if denied:
            raise Refused(f"refused: {denied}")
        kinds = {t.split("/")[0].split(".")[0].lower() for t in targets}
        if kinds & CLUSTER_KINDS:
            raise Refused(f"refused: {sorted(kinds & CLUSTER_KINDS)} are cluster-scoped, outside the incident's namespace")
        if not (targets or selectors):
            raise Refused(f"refused: `kubectl {verb}` without a named target")
        if verb in PATCH_EQUIVALENT and not targets:
            raise Refused(f"refused: `kubectl {verb}` needs a named target (e.g. deployment/api), not a selector")
    return KubeCall(out, verb, mutating, ns, targets, selectors)


def check_helm(argv: list[str], policy: KubePolicy, scope: AgentScope) -> list[str]:
    """helm: read-only subcommands, in the scope's namespace; releases are changed with kubectl, not helm."""
    flags, positionals = _split(argv[1:])
    sub = positionals[0] if positionals else ""
    if sub in HELM_MUTATING:
        raise Refused(f"refused: `helm {sub}`: helm changes are not supported by the guarded toolbox; use kubectl")
    if sub not in HELM_READ:
        raise Refused(f"refused: unknown or unsupported helm command {sub!r}")
    for name, _v in flags:
        if name in ("-A", "--all-namespaces"):
            raise Refused("refused: --all-namespaces; this incident is scoped to one namespace")
        if name in ("--kubeconfig", "--kube-context", "--kube-token", "--kube-apiserver", "--kube-as-user"):
            raise Refused(f"refused: {name} would switch cluster or identity")
    namespaces = {v for n, v in flags if n in ("-n", "--namespace")}
    if len(namespaces) > 1 or (namespaces and scope.namespace and namespaces != {scope.namespace}):
        raise Refused(f"refused: namespace {sorted(namespaces)} is outside this incident's namespace {scope.namespace!r}")
    if not namespaces and scope.namespace:
        return [*argv, f"--namespace={scope.namespace}"]
    return list(argv)


def _split(args: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Separate `(flag, value)` pairs from positional arguments; `-nfoo` and `--x=y` are understood."""
    flags: list[tuple[str, str]] = []
    pos: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            pos.extend(args[i + 1 :])
            break
        if a.startswith("--"):
            name, eq, value = a.partition("=")
            if not eq and name in VALUE_FLAGS and i + 1 < len(args):
                value, i = args[i + 1], i + 1
            flags.append((name, value))
        elif a.startswith("-") and len(a) > 1:
            name = a[:2]
            if len(a) > 2 and name in VALUE_FLAGS:
                flags.append((name, a[2:].lstrip("=")))
            elif name in VALUE_FLAGS and i + 1 < len(args):
                flags.append((name, args[i + 1]))
                i += 1
            else:
                flags.extend((f"-{c}", "") for c in a[1:])  # bundled booleans: -Aw
        else:
            pos.append(a)
        i += 1
    return flags, pos


def _targets(rest: list[str]) -> list[str]:
    """Resources named by positionals: `deployment/api ...` or `deployment api` (label/annotate pairs dropped)."""
    names = [p for p in rest if "=" not in p and not p.endswith("-") and ":" not in p]
    if not names:
        return []
    if "/" in names[0]:
        return [p for p in names if "/" in p]
    return names
