"""Alert rules in the kube-prometheus mixin's shape (kubernetes-mixin `alerts/apps_alerts.libsonnet`), with the
mixin's workload recording rule so each alert names its Deployment or StatefulSet (`workload`, `workload_type`).

The expressions, names, labels and annotations are the mixin's; only `for:` is shortened by the caller
(a test cannot wait the mixin's 15 minutes), and memory near the limit -- which the mixin leaves to
`KubeMemoryOvercommit` at the cluster level -- is written the way the mixin writes per-container alerts.
"""

from __future__ import annotations

from typing import Any

import yaml

WORKLOAD = "namespace_workload_pod:kube_pod_owner:relabel"
_WITH_WORKLOAD = f" * on (namespace, pod) group_left (workload, workload_type) {WORKLOAD}"


def recording_rules() -> list[dict[str, Any]]:
    """The mixin's pod -> workload mapping (Deployments through their ReplicaSets, and StatefulSets)."""
    ksm = 'job="kube-state-metrics"'
    deployment = (
        "max by (namespace, workload, pod) (label_replace(label_replace("
        f'kube_pod_owner{{{ksm}, owner_kind="ReplicaSet"}}, "replicaset", "$1", "owner_name", "(.*)")'
        " * on (replicaset, namespace) group_left (owner_name) topk by (replicaset, namespace) (1, max by "
        f"(replicaset, namespace, owner_name) (kube_replicaset_owner{{{ksm}}})), \"workload\", \"$1\", \"owner_name\", \"(.*)\"))")
    statefulset = ("max by (namespace, workload, pod) (label_replace("
                   f'kube_pod_owner{{{ksm}, owner_kind="StatefulSet"}}, "workload", "$1", "owner_name", "(.*)"))')
    return [{"record": WORKLOAD, "expr": deployment, "labels": {"workload_type": "deployment"}},
            {"record": WORKLOAD, "expr": statefulset, "labels": {"workload_type": "statefulset"}}]


def alert_rules(for_: str = "15m", memory_ratio: float = 0.9) -> list[dict[str, Any]]:
    ksm = 'job="kube-state-metrics"'
    return [
        {"alert": "KubePodCrashLooping",
         "expr": f'(max_over_time(kube_pod_container_status_waiting_reason{{reason="CrashLoopBackOff", {ksm}}}[5m]) >= 1)'
                 + _WITH_WORKLOAD,
         "for": for_, "labels": {"severity": "warning"},
         "annotations": {"summary": "Pod is crash looping.",
                         "description": 'Pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is in '
                                        'waiting state (reason: "CrashLoopBackOff").',
                         "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"}},
        {"alert": "KubeContainerWaiting",
         "expr": f"(sum by (namespace, pod, container, reason) (kube_pod_container_status_waiting_reason{{{ksm}}}) > 0)"
                 + _WITH_WORKLOAD,
         "for": for_, "labels": {"severity": "warning"},
         "annotations": {"summary": "Pod container waiting longer than 1 hour",
                         "description": "pod/{{ $labels.pod }} in namespace {{ $labels.namespace }} on container "
                                        "{{ $labels.container }} has been in waiting state ({{ $labels.reason }}).",
                         "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubecontainerwaiting"}},
        {"alert": "KubeContainerMemoryNearLimit",
         "expr": ('(max by (namespace, pod, container) (container_memory_working_set_bytes{job="kubelet", container!=""})'
                  ' / max by (namespace, pod, container) (kube_pod_container_resource_limits{'
                  f'{ksm}, resource="memory"}}) > {memory_ratio})' + _WITH_WORKLOAD),
         "for": for_, "labels": {"severity": "critical"},
         "annotations": {"summary": "Container memory is near its limit.",
                         "description": "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) uses "
                                        "{{ $value | humanizePercentage }} of its memory limit."}},
    ]


def rules_yaml(for_: str = "15m", memory_ratio: float = 0.9) -> str:
    return yaml.safe_dump({"groups": [
        {"name": "k8s.rules.pod_owner", "rules": recording_rules()},
        {"name": "kubernetes-apps", "rules": alert_rules(for_, memory_ratio)},
    ]}, sort_keys=False)
