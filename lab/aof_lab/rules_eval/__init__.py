"""Scenarios for builtin:k8s-rules and the scorer behind `aofctl eval`."""
