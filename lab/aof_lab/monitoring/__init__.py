"""Debian's real Prometheus and Alertmanager, started by the project on loopback for tests and the demo.

`install.ensure_monitoring()` installs the packages when they are missing (as root, through apt-get, as the
suite does for Chromium); `stack.MonitoringStack` runs both processes in a temporary directory, scraping the
sandbox's `/metrics`, with the scenarios' histories backfilled and kube-prometheus-shaped alert rules loaded.
"""
