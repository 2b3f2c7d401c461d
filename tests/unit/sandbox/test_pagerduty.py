"""The sandbox PagerDuty enforces what PagerDuty's REST API v2 enforces on the flow's calls."""

from __future__ import annotations

import httpx
import pytest
import requests

from aof_lab.sandbox.pagerduty import PagerDutyAPI


@pytest.fixture()
def pd():
    with PagerDutyAPI() as srv:
        srv.add_incident("TEST001", "High memory usage on api-deployment", "API Service", "high",
                         {"namespace": "production", "resource": "deployment/api"})
        yield srv


def hdrs(pd: PagerDutyAPI, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Token token={pd.api_key}", "Accept": "application/vnd.pagerduty+json;version=2",
            "Content-Type": "application/json", **extra}


RESOLVE = {"incident": {"type": "incident_reference", "status": "resolved", "resolution": "Auto-resolved by AOF: restart"}}


def test_resolve_needs_from_header(pd):
    r = httpx.put(f"{pd.base_url}/incidents/TEST001", headers=hdrs(pd), json=RESOLVE)
    assert r.status_code == 400 and "From" in r.json()["error"]["errors"][0]
    assert pd.incident("TEST001")["status"] == "triggered"

    r = httpx.put(f"{pd.base_url}/incidents/TEST001", headers=hdrs(pd, From="aof@example.com"), json=RESOLVE)
    assert r.status_code == 200, r.text
    inc = r.json()["incident"]
    assert inc["status"] == "resolved" and inc["resolve_reason"]["summary"] == "Auto-resolved by AOF: restart"
    assert requests.get(f"{pd.base_url}/incidents/TEST001", headers=hdrs(pd)).json()["incident"]["status"] == "resolved"
    assert [(r.method, r.status) for r in pd.requests] == [("PUT", 400), ("PUT", 200), ("GET", 200)]
    assert pd.requests[1].body == RESOLVE and pd.requests[1].headers["From"] == "aof@example.com"


def test_auth_is_required(pd):
    assert httpx.get(f"{pd.base_url}/incidents/TEST001").status_code == 401
    assert httpx.get(f"{pd.base_url}/incidents/TEST001", headers={"Authorization": "Token token=wrong"}).status_code == 401
    assert httpx.get(f"{pd.base_url}/incidents/NOPE", headers=hdrs(pd)).status_code == 404


def test_bad_bodies_are_400(pd):
    h = hdrs(pd, From="aof@example.com")
    assert httpx.put(f"{pd.base_url}/incidents/TEST001", headers=h, json={"status": "resolved"}).status_code == 400
    bad = {"incident": {"type": "incident_reference", "status": "fixed"}}
    assert httpx.put(f"{pd.base_url}/incidents/TEST001", headers=h, json=bad).status_code == 400
    assert pd.incident("TEST001")["status"] == "triggered"


def test_alerts_carry_custom_details_and_list_filters(pd):
    pd.add_incident("TEST002", "Database cluster down", "PostgreSQL", "high",
                    {"namespace": "production", "resource": "statefulset/postgres"})
    alerts = httpx.get(f"{pd.base_url}/incidents/TEST002/alerts", headers=hdrs(pd)).json()["alerts"]
    assert alerts[0]["body"]["details"] == {"namespace": "production", "resource": "statefulset/postgres"}
    httpx.put(f"{pd.base_url}/incidents/TEST001", headers=hdrs(pd, From="a@b.c"), json=RESOLVE)
    listed = httpx.get(f"{pd.base_url}/incidents", params={"statuses[]": ["triggered", "acknowledged"]}, headers=hdrs(pd)).json()
    assert [i["id"] for i in listed["incidents"]] == ["TEST002"]
    assert len(httpx.get(f"{pd.base_url}/incidents", headers=hdrs(pd)).json()["incidents"]) == 2


def test_page_lists_incidents_marked_sandbox(pd):
    page = httpx.get(pd.base_url + "/").text
    assert "SANDBOX -- not PagerDuty" in page and "TEST001" in page and "triggered" in page
