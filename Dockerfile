# syntax=docker/dockerfile:1
# sd-operator image: the operator and the plan/apply CLI, one entry point.
#   docker build -t sd-operator .
#   docker run --rm sd-operator plan --help
ARG PYTHON_IMAGE=python:3.11-slim

# Build: wheels for sd-operator and every dependency, then a virtualenv installed from them only.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --wheel-dir /wheels . \
 && python -m venv /opt/sd-operator \
 && /opt/sd-operator/bin/pip install --no-index --find-links /wheels sd-operator \
 && /opt/sd-operator/bin/pip uninstall --yes pip \
 && /opt/sd-operator/bin/sd-operator --help >/dev/null

# Runtime: the same Python, the virtualenv, a non-root user; no compilers, no wheels, no pip.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="sd-operator" \
      org.opencontainers.image.description="Keeps AWS Cloud Map and ECS service discovery equal to Kubernetes resources" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 sd-operator \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin sd-operator
COPY --from=build /opt/sd-operator /opt/sd-operator
ENV PATH=/opt/sd-operator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
# Liveness (--liveness) and Prometheus metrics (--metrics-port), as the helm chart sets them.
EXPOSE 8080 9090
ENTRYPOINT ["sd-operator"]
CMD ["run", "--all-namespaces"]
