# syntax=docker/dockerfile:1
# sd-operator image: the operator and the plan/apply CLI, one entry point.
#   docker build -t sd-operator .
#   docker run --rm sd-operator plan --help
# The base is pinned by digest (python:3.11-slim, linux/amd64 + arm64 index); renew it with
#   docker buildx imagetools inspect python:3.11-slim
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# Build: a virtualenv from the locked, hash-checked dependency set, then the project's wheel,
# built with the locked build backend (no unpinned download anywhere).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.lock requirements-build.lock ./
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
 && python -m venv /opt/sd-operator \
 && /opt/sd-operator/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/sd-operator/bin/pip install --no-deps --no-index /wheels/sd_operator-*.whl \
 && /opt/sd-operator/bin/pip uninstall --yes pip \
 && /opt/sd-operator/bin/sd-operator --version

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
# Health (--liveness /healthz) and metrics + readiness (--metrics-port: /metrics, /readyz), as
# the helm chart sets them.
EXPOSE 8080 9090
ENTRYPOINT ["sd-operator"]
CMD ["run", "--all-namespaces"]
