# The aof-airflow image: the official Airflow image of the pinned version, with this package installed
# under the same constraints the tests run with.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER root
# kubectl for the agents' Shell tool, the upstream release binary checked against its published sha256
# (Debian bookworm's kubernetes-client is 1.20: too far behind current API servers).
ARG KUBECTL_VERSION=v1.32.4
ARG TARGETARCH=amd64
RUN curl -fsSLo /usr/local/bin/kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl" \
 && echo "$(curl -fsSL "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl.sha256")  /usr/local/bin/kubectl" | sha256sum -c - \
 && chmod 0755 /usr/local/bin/kubectl
USER airflow

COPY --chown=airflow:root pyproject.toml constraints.txt README.md /opt/aof/
COPY --chown=airflow:root aof_airflow /opt/aof/aof_airflow
RUN pip install --no-cache-dir -c /opt/aof/constraints.txt "/opt/aof[celery]"
