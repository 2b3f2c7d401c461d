"""The incident profile: the tutorial's names are only its defaults; a flow names its own with annotations."""

from __future__ import annotations

import pytest

from aof_airflow.spec.incident import IncidentProfile, split_candidates
from aof_airflow.templating import TemplateContext

EVENT = {"event": {"incident": {"id": "TEST001", "service": {"name": "API Service"},
                                "custom_details": {"namespace": "production", "resource": "deployment/api"}},
                   "alert": {"labels": {"ns": "shop"}}}}


def ctx(**roots):
    return TemplateContext({**EVENT, **roots}, environ={}, variables=None)


def test_defaults_read_the_tutorials_flow_variables_then_the_pagerduty_event():
    p = IncidentProfile()
    got = p.resolve(ctx())
    assert (got.id, got.service, got.namespace, got.resource, got.system) == (
        "TEST001", "API Service", "production", "deployment/api", "PagerDuty")
    assert p.resolve(ctx(K8S_NAMESPACE="staging", INCIDENT_ID="X9")).namespace == "staging"
    assert p.resolve(TemplateContext({}, environ={}, variables=None)).namespace is None


def test_annotations_override_a_field_with_templates_or_a_constant():
    p = IncidentProfile.from_annotations({"aof.dev/incident-namespace": "${event.alert.labels.nope}, ${event.alert.labels.ns}",
                                          "aof.dev/incident-resource": "deployment/checkout",
                                          "team": "sre"})
    got = p.resolve(ctx())
    assert (got.namespace, got.resource, got.id) == ("shop", "deployment/checkout", "TEST001")


def test_commas_inside_a_placeholder_do_not_split():
    assert split_candidates("${a:-x,y}, ${b}") == ("${a:-x,y}", "${b}")


@pytest.mark.parametrize(("annotations", "message"), [
    ({"aof.dev/incident-namspace": "x"}, "'aof.dev/incident-namspace'] is not an incident field; known: "
                                         "aof.dev/incident-id, aof.dev/incident-namespace"),
    ({"aof.dev/incident-id": "${event.incident.id"}, "unclosed"),
    ({"aof.dev/incident-id": " , "}, "empty"),
])
def test_a_bad_annotation_is_an_error_naming_it(annotations, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        IncidentProfile.from_annotations(annotations, where="flow 'f'")
