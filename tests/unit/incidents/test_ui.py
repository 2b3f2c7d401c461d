"""The Incidents page: table with run links, MTTR and auto-resolution charts; the JSON endpoints; login needed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from aof_airflow.incidents import records, ui
from tests.unit.incidents.fixtures import NOW
from tests.unit.incidents.fixtures import records as fixture


def shifted(days_spread: bool = True) -> list[records.IncidentRecord]:
    """The fixture moved to today, its records spread over the last days (so the charts have several points)."""
    delta = datetime.now(timezone.utc).replace(microsecond=0) - NOW
    out = []
    for i, r in enumerate(fixture()):
        shift = delta - (timedelta(days=i % 5) if days_spread else timedelta(0))
        r.started_at, r.ended_at, r.recorded_at = r.started_at + shift, r.ended_at + shift, r.recorded_at + shift
        out.append(r)
    return out


@pytest.fixture
def client(db, monkeypatch):
    monkeypatch.setenv("AOF_INCIDENTS_UI_AUTH", "false")
    records.save_many(shifted(), db)
    return TestClient(ui.create_app())


def test_page_has_table_links_and_charts(client):
    r = client.get("/", params={"flow": "incident-auto-response", "days": 7})
    assert r.status_code == 200
    page = r.text
    rows = re.findall(r'<a class="run" href="([^"]+)"', page)
    # records 1-8 of the flow fall in the last 7 days (the 8-days-old one and the other flow do not)
    assert sorted(rows) == sorted(f"/dags/incident-auto-response/runs/run-{i}" for i in range(1, 9))
    assert 'target="_top"' in page  # the page is embedded: links open in Airflow's own frame
    assert page.count('<svg class="chart"') == 2
    assert 'data-series="mttr_median_seconds"' in page and 'data-series="auto_resolved_rate"' in page
    assert page.count('class="bar"') >= 2 and page.count('class="pt"') >= 2
    assert ">escalated<" in page and ">skipped_at_approval<" in page
    assert "<b>8</b><span>runs</span>" in page and "<b>75%</b><span>success rate</span>" in page


def test_titles_are_escaped(db, monkeypatch):
    monkeypatch.setenv("AOF_INCIDENTS_UI_AUTH", "false")
    r = shifted()[0]
    r.title = '<script>alert("x")</script>'
    records.save(r)
    page = TestClient(ui.create_app()).get("/").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_json_endpoints(client):
    m = client.get("/api/metrics", params={"flow": "incident-auto-response", "days": 7}).json()
    assert m["runs"] == 8 and m["success_rate"] == 0.75 and len(m["daily"]) == 7
    recs = client.get("/api/records", params={"flow": "incident-auto-response", "days": 30}).json()
    assert len(recs) == 9 and {r["dag_id"] for r in recs} == {"incident-auto-response"}


def test_login_required_by_default(db, monkeypatch):
    monkeypatch.delenv("AOF_INCIDENTS_UI_AUTH", raising=False)
    c = TestClient(ui.create_app())
    assert c.get("/").status_code == 401
    assert c.get("/api/records").status_code == 401
    assert c.get("/", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401


def test_plugin_registers_app_and_nav_entry():
    from aof_airflow.plugin import AofPlugin

    assert any(a["url_prefix"] == "/aof/incidents" for a in AofPlugin.fastapi_apps)
    assert AofPlugin.external_views == [{"name": "Incidents", "href": "/aof/incidents/", "destination": "nav",
                                         "url_route": "aof-incidents", "category": "browse"}]
