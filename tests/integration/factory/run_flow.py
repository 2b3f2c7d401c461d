"""Run one AgentFlow DAG with `dag.test(run_conf=...)` in THIS process and print what happened as JSON.

Started by the tests as a subprocess so Airflow reads the test's AIRFLOW_HOME / dags folder / connections
from the environment at import time, whatever other tests in the same pytest process configured.
usage: run_flow.py <dag_id> <conf.json> <out.json>
"""

import json
import sys
import time


def main() -> None:
    dag_id, conf_path, out_path = sys.argv[1:4]
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    t0 = time.monotonic()
    import os

    folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    bag = DagBag(dag_folder=folder, bundle_path=__import__("pathlib").Path(folder))
    parse_s = time.monotonic() - t0
    out: dict = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dag_ids": sorted(bag.dag_ids)}
    if dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        t1 = time.monotonic()
        dr = dag.test(run_conf=json.loads(open(conf_path).read()))
        out["run_s"] = time.monotonic() - t1
        out["state"] = str(dr.state)
        with create_session() as session:
            from airflow.models.taskinstance import TaskInstance

            tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dr.run_id).all()
            out["tasks"] = {ti.task_id: str(ti.state) for ti in tis}
            out["xcom"] = {}
            for x in session.query(XComModel).filter_by(dag_id=dag_id, run_id=dr.run_id).all():
                out["xcom"].setdefault(x.task_id, {})[x.key] = x.value
    out["parse_s"] = parse_s
    with open(out_path, "w") as fh:
        json.dump(out, fh, default=str)


if __name__ == "__main__":
    main()
