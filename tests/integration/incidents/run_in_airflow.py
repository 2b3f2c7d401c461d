"""Run DAGs with `dag.test()` in THIS process (a subprocess of the test) and dump what our code recorded.

Real Airflow all the way: the DagRun's state change goes through `DagRun.update_state`, which calls the
plugin's listener exactly as the scheduler does; the records land in the real metadata DB (SQLite).
usage: run_in_airflow.py <dag_id> <confs.json: [{"run_id":..., "conf":...}]> <out.json> [seed-records.json]
"""

import json
import sys
import time
from pathlib import Path


def main() -> None:
    dag_id, confs_path, out_path = sys.argv[1:4]
    seed = sys.argv[4] if len(sys.argv) > 4 else None
    import os

    from airflow.dag_processing.dagbag import DagBag

    from aof_airflow.incidents import collector, records

    if seed:  # the seed replaces whatever earlier runs in this home recorded
        from aof_airflow.db import ensure_tables

        with ensure_tables().begin() as c:
            c.execute(records.incidents.delete())
        records.save_many([records.IncidentRecord.from_json(d) for d in json.loads(Path(seed).read_text())])
    folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    bag = DagBag(dag_folder=folder, bundle_path=Path(folder))
    out: dict = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "runs": {}}
    dag = bag.get_dag(dag_id)
    for item in json.loads(Path(confs_path).read_text()):
        t0 = time.monotonic()
        dr = dag.test(run_conf=item.get("conf") or None)
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as s:
            tis = s.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dr.run_id).all()
            tasks = {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}
            from airflow.models.dagrun import DagRun

            fresh = s.query(DagRun).filter_by(dag_id=dag_id, run_id=dr.run_id).one()
            state, note = str(getattr(fresh.state, "value", fresh.state)), fresh.note
        rec = records.get(dag_id, dr.run_id)
        rebuilt = collector.collect(dag_id, dr.run_id)
        out["runs"][item["name"]] = {
            "run_id": dr.run_id, "state": state, "note": note, "tasks": tasks,
            "seconds": round(time.monotonic() - t0, 1),
            "record": rec.to_json() if rec else None,
            "rebuilt": rebuilt.to_json(),
        }
    if os.environ.get("AOF_TEST_SCHEDULER_GUARD"):
        out["guarded"] = rerecord_under_scheduler_guard(dag_id, dr.run_id)
    Path(out_path).write_text(json.dumps(out, default=str))


def rerecord_under_scheduler_guard(dag_id: str, run_id: str) -> dict:
    """Call the listener the way the scheduler does: on its session, under `prohibit_commit` (which turns any
    Session commit into "UNEXPECTED COMMIT - THIS WILL BREAK HA LOCKS!"), and raise if anything went wrong."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import prohibit_commit
    from sqlalchemy import select

    from aof_airflow.db import ensure_tables
    from aof_airflow.incidents import listener, records

    with ensure_tables().begin() as c:
        c.execute(records.incidents.delete().where(records.incidents.c.run_id == run_id))
    with create_session() as s:
        dr = s.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        with prohibit_commit(s) as guard:
            listener.record_run(dr, "task_failure")
            guard.expected_commit = True  # what the scheduler does before its own commit
        s.commit()
    return records.get(dag_id, run_id).to_json()


if __name__ == "__main__":
    main()
