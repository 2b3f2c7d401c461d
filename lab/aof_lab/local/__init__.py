"""Running Airflow on one machine for `make demo` and the tests: the processes and a REST client."""
