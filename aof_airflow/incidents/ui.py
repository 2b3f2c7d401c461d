"""The "Incidents" page of the Airflow UI: a FastAPI app mounted by the plugin (`fastapi_apps`) and shown in
the navigation through `external_views` (Airflow 3 embeds it).

Server-rendered HTML with inline SVG charts: no JS bundle to build, no CDN (air-gapped Airflow installs are
common). Access needs the same JWT as the rest of Airflow (the UI's `_token` cookie or a Bearer header),
checked with Airflow's own auth manager; `[aof] incidents_ui_auth = false` turns that off (a page served
outside the api-server, e.g. behind its own proxy).
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from aof_airflow.config import settings

PREFIX = "/aof/incidents"
RESULT_COLORS = {
    "auto_resolved": "#1e8e3e", "escalated": "#d93025", "failed": "#a50e0e", "timed_out": "#b06000",
    "skipped_at_approval": "#5f6368", "no_action": "#80868b",
}


def plugin_entries() -> tuple[list[dict], list[dict]]:
    """(fastapi_apps, external_views) for AofPlugin."""
    if not settings().incidents_ui:
        return [], []
    apps = [{"app": LazyApp(), "url_prefix": PREFIX, "name": "aof-incidents"}]
    views = [{"name": "Incidents", "href": f"{PREFIX}/", "destination": "nav", "url_route": "aof-incidents",
              "category": "browse"}]
    return apps, views


class LazyApp:
    """Built on the first request: every Airflow process imports the plugin, only the api-server serves it."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)


def _auth_required() -> bool:
    return settings().incidents_ui_auth


def create_app() -> Any:
    from fastapi import (  # the plugin loads in every Airflow process: the page's code only in the api-server
        FastAPI,
        Query,
        Request,
    )
    from fastapi.responses import (  # the plugin loads in every Airflow process: the page's code only in the api-server
        HTMLResponse,
        JSONResponse,
    )

    app = FastAPI(title="aof incidents", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def require_login(request: Request, call_next):  # type: ignore[no-untyped-def]
        if _auth_required():
            auth = request.headers.get("authorization", "")
            token = auth[7:] if auth.lower().startswith("bearer ") else request.cookies.get("_token")
            if not token or not await _valid(token):
                return JSONResponse({"detail": "Not authenticated: log in to Airflow first"}, status_code=401)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page(flow: str | None = None, days: int = Query(14, ge=1, le=365), limit: int = Query(200, ge=1, le=2000)):
        return HTMLResponse(render_page(flow=flow or None, days=days, limit=limit))

    @app.get("/api/records")
    def api_records(flow: str | None = None, days: int = Query(14, ge=1, le=365), limit: int = Query(200, ge=1, le=2000)):
        # the plugin loads in every Airflow process: the page's code only in the api-server
        from aof_airflow.incidents import records

        since = datetime.now(timezone.utc) - timedelta(days=days)
        return [r.to_json() for r in records.query(dag_id=flow, since=since, limit=limit)]

    @app.get("/api/metrics")
    def api_metrics(flow: str | None = None, days: int = Query(14, ge=1, le=365)):
        from aof_airflow.incidents import (  # the plugin loads in every Airflow process: the page's code only in the api-server
            metrics,
            records,
        )

        now = datetime.now(timezone.utc)
        recs = records.query(dag_id=flow, since=now - timedelta(days=days))
        return {**metrics.compute(recs, flow=flow), "daily": metrics.daily_series(recs, days=days, now=now)}

    return app


async def _valid(token: str) -> bool:
    try:
        # the plugin loads in every Airflow process: the page's code only in the api-server
        from airflow.api_fastapi.app import get_auth_manager

        await get_auth_manager().get_user_from_token(token)
        return True
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------- rendering

e = html.escape


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.0f}%"


def _dur(v: float | None) -> str:
    if v is None:
        return "–"
    if v < 120:
        return f"{v:.0f}s"
    return f"{v / 60:.1f}m" if v < 7200 else f"{v / 3600:.1f}h"


def chart(points: list[dict[str, Any]], key: str, *, title: str, kind: str, fmt: Any, color: str,
          max_value: float | None = None, width: int = 560, height: int = 180) -> str:
    """An inline SVG chart of one series per day (bars for durations, a line for rates); gaps stay gaps."""
    pad_l, pad_b, pad_t = 44, 26, 30
    w, h = width - pad_l - 8, height - pad_b - pad_t
    vals = [p.get(key) for p in points]
    top = max_value or max([v for v in vals if v is not None] or [1]) or 1
    n = max(len(points), 1)
    step = w / n
    parts = [f'<svg class="chart" data-series="{e(key)}" width="{width}" height="{height}" role="img" '
             f'aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{pad_l}" y="14" class="ct">{e(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" stroke="#bbb"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 4}" class="ax" text-anchor="end">{e(fmt(top))}</text>',
             f'<text x="{pad_l - 4}" y="{pad_t + h}" class="ax" text-anchor="end">0</text>']
    line: list[str] = []
    for i, (p, v) in enumerate(zip(points, vals)):
        x = pad_l + i * step
        if i % max(1, n // 7) == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 8}" class="ax" text-anchor="middle">'
                         f'{e(p["day"][5:])}</text>')
        if v is None:
            if line:
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(line)}"/>')
                line = []
            continue
        y = pad_t + h - (v / top) * h
        tip = f'<title>{e(p["day"])}: {e(fmt(v))} ({p["runs"]} runs)</title>'
        if kind == "bar":
            parts.append(f'<rect class="bar" x="{x + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                         f'height="{pad_t + h - y:.1f}" fill="{color}">{tip}</rect>')
        else:
            cx = x + step / 2
            line.append(f"{cx:.1f},{y:.1f}")
            parts.append(f'<circle class="pt" cx="{cx:.1f}" cy="{y:.1f}" r="3" fill="{color}">{tip}</circle>')
    if line:
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(line)}"/>')
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#202124;background:#fff}
h1{font-size:20px;margin:0 0 12px} .cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:12px}
.card{border:1px solid #dadce0;border-radius:8px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px} .card span{font-size:12px;color:#5f6368}
.charts{display:flex;gap:16px;flex-wrap:wrap;margin-bottom:12px} .chart{border:1px solid #dadce0;border-radius:8px}
.ct{font-size:13px;font-weight:600;fill:#202124} .ax{font-size:10px;fill:#5f6368}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left}
th{background:#f8f9fa;position:sticky;top:0} .badge{color:#fff;border-radius:10px;padding:1px 8px;font-size:12px}
form{margin-bottom:12px;font-size:13px} a{color:#1a73e8} h2{font-size:16px;margin:18px 0 8px}
pre{margin:0;white-space:pre-wrap;font-size:11px;max-width:520px}
"""


def render_page(*, flow: str | None, days: int, limit: int, now: datetime | None = None) -> str:
    from aof_airflow.incidents import (  # the plugin loads in every Airflow process: the page's code only in the api-server
        metrics,
        records,
    )

    now = now or datetime.now(timezone.utc)
    recs = records.query(dag_id=flow, since=now - timedelta(days=days), until=now + timedelta(seconds=1))
    m = metrics.compute(recs, flow=flow)
    series = metrics.daily_series(recs, days=days, now=now)
    flows = sorted({r.dag_id for r in records.query(limit=2000)})
    cards = [("runs", str(m["runs"])), ("success rate", _pct(m["success_rate"])),
             ("auto-resolved", _pct(m["auto_resolved_rate"])), ("escalated", _pct(m["escalation_rate"])),
             ("MTTR median", _dur(m["mttr_seconds"]["all"]["median"])), ("MTTR p90", _dur(m["mttr_seconds"]["all"]["p90"])),
             ("approval wait p90", _dur(m["approvals"]["wait_seconds"]["p90"])),
             ("changes applied", str(m["changes_applied"])), ("shadow: would have run", str(m["shadow"]["would_have_run"]))]
    options = "".join(f'<option value="{e(f)}"{" selected" if f == flow else ""}>{e(f)}</option>' for f in flows)
    rows = []
    for r in recs[:limit]:
        color = RESULT_COLORS.get(r.result, "#5f6368")
        ap = r.approval or {}
        approval = e(ap.get("outcome") or "–") + (f" <small>by {e(str(ap['by']))}</small>" if ap.get("by") else "")
        link = f"/dags/{quote(r.dag_id, safe='')}/runs/{quote(r.run_id, safe='')}"
        when = r.ended_at or r.recorded_at
        rows.append(
            "<tr>"
            f"<td>{e(when.strftime('%Y-%m-%d %H:%M') if when else '–')}</td>"
            f"<td>{e(r.incident_id or '–')}</td><td>{e(r.title or '–')}</td><td>{e(r.service or '–')}</td>"
            f"<td>{e(r.severity or '–')}</td>"
            f'<td><span class="badge" style="background:{color}">{e(r.result)}</span></td>'
            f"<td>{approval}</td><td>{e(r.failed_node or '')}</td><td>{_dur(r.duration_seconds)}</td>"
            f"<td>{r.usage.get('input_tokens', 0) + r.usage.get('output_tokens', 0)}</td>"
            f'<td><a class="run" href="{e(link)}" target="_top">{e(r.dag_id)} / {e(r.run_id)}</a></td>'
            "</tr>")
    body = "".join(rows) or '<tr><td colspan="11">No incident records in this window.</td></tr>'
    shadow = shadow_section(m["shadow"]) + signals_section(flow)
    mttr = chart(series, "mttr_median_seconds", title="MTTR (median, auto-resolved) per day", kind="bar",
                 fmt=_dur, color="#1a73e8")
    rate = chart(series, "auto_resolved_rate", title="Auto-resolution rate per day", kind="line",
                 fmt=_pct, color="#1e8e3e", max_value=1.0)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Incidents · aof</title>
<style>{CSS}</style></head><body>
<h1>Incidents{(' · ' + e(flow)) if flow else ''} <small style="font-weight:normal;color:#5f6368">last {days} days</small></h1>
<form method="get">Flow <select name="flow"><option value="">all flows</option>{options}</select>
Days <input name="days" type="number" min="1" max="365" value="{days}" style="width:60px">
<button type="submit">Show</button></form>
<div class="cards">{''.join(f'<div class="card"><b>{e(v)}</b><span>{e(k)}</span></div>' for k, v in cards)}</div>
<div class="charts">{mttr}{rate}</div>
<table id="incidents"><thead><tr><th>Ended</th><th>Incident</th><th>Title</th><th>Service</th><th>Severity</th>
<th>Result</th><th>Approval</th><th>Failed node</th><th>Duration</th><th>Tokens</th><th>Run</th></tr></thead>
<tbody>{body}</tbody></table>{shadow}</body></html>"""


def signals_section(flow: str | None) -> str:
    """Alerts and PagerDuty incidents per run: the one that started it, those attached, held back, resolved."""
    from aof_airflow.incidents import signals

    runs = signals.recent_runs(flow)
    if not runs:
        return ""
    rows = "".join(
        f"<tr><td>{e(datetime.fromtimestamp(r.last_at, timezone.utc).strftime('%Y-%m-%d %H:%M'))}</td>"
        f"<td>{e(r.target or 'no target')}</td><td>{e(r.summary)}</td><td>{e(r.outcome)}</td>"
        f'<td><a class="run" href="/dags/{quote(r.dag_id, safe="")}/runs/{quote(r.run_id, safe="")}" target="_top">'
        f"{e(r.dag_id)} / {e(r.run_id)}</a></td></tr>" for r in runs)
    return ('<h2 id="signals">Signals: one remediation per target <small>alerts attached to an open run or held '
            'back after no action / an escalation</small></h2><table id="signals-table"><thead><tr><th>Last</th>'
            f"<th>Target</th><th>Signals</th><th>Outcome</th><th>Run</th></tr></thead><tbody>{rows}</tbody></table>")


def shadow_section(sh: dict[str, Any]) -> str:
    """What shadow mode would have done: each recorded change with the server's dry-run answer (none applied)."""
    if not sh["latest"]:
        return ""
    rows = "".join(
        f"<tr><td>{e(x['when'][:16] if x['when'] else '–')}</td><td>{e(x['incident_id'] or '–')}</td>"
        f"<td>{e(x['node'] or '–')}</td><td><code>would have run: {e(x['command'] or '')}</code></td>"
        f"<td><pre>{e(x['dry_run'] or '')}</pre></td></tr>" for x in sh["latest"])
    return (f'<h2 id="shadow">Shadow mode: what would have run <small>{sh["would_have_run"]} change(s) in {sh["runs"]} run(s), '
            f"none applied (server dry runs)</small></h2><table id=\"shadow-actions\"><thead><tr><th>When</th><th>Incident</th>"
            f"<th>Node</th><th>Change</th><th>Dry run (server)</th></tr></thead><tbody>{rows}</tbody></table>")
