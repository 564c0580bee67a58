# The rlvr-envs environment server: `rlvr-envs serve` over OpenEnv's protocol (docs/serving.md).
#
#   sh deploy/fetch-wheels.sh        # only where the build cannot reach a package index
#   docker build -f deploy/env-server.Dockerfile -t rlvr-envs-server \
#       --build-arg BASE_IMAGE=rlvr-envs-sandbox:latest .
#   docker run --rm -p 8000:8000 rlvr-envs-server --env rlvr/Arithmetic-v0
#
# Code environments need a sandbox: point them at sandbox services with
# -e RLVR_SANDBOX_BACKEND=remote -e RLVR_SANDBOX_URLS=http://sandbox:8080 (see the docs).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY deploy/wheels/ /wheels/
COPY pyproject.toml README.md /src/
COPY rlvr_envs /src/rlvr_envs
COPY sandbox /src/sandbox
COPY agents /src/agents
COPY deploy/install.sh /tmp/install.sh
RUN sh /tmp/install.sh && rm -rf /wheels /src /tmp/install.sh
# Benchmark files (GSM8K, HumanEval...) are read from here when mounted.
ENV RLVR_ENVS_DATA_DIR=/data
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin rlvr
USER rlvr
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
ENTRYPOINT ["rlvr-envs", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--env", "rlvr/Arithmetic-v0"]
