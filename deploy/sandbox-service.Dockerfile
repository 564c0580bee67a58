# The sandbox service: SandboxFusion's /run_code over a local sandbox pool (docs/serving.md).
#
#   sh deploy/fetch-wheels.sh        # only where the build cannot reach a package index
#   docker build -f deploy/sandbox-service.Dockerfile -t rlvr-envs-sandbox-service \
#       --build-arg BASE_IMAGE=rlvr-envs-sandbox:latest .
#   docker run --rm -p 8080:8080 --cap-add SYS_ADMIN --cap-add NET_ADMIN \
#       --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#       rlvr-envs-sandbox-service
#
# With those options `auto` picks bwrap (private namespaces per worker, a uid per slot). Without
# them the kernel refuses namespaces: run with --user 10001 and the local backend runs jobs as
# that user (rlimits and seccomp only; the container is then the isolation boundary).
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
RUN if ! command -v bwrap >/dev/null; then \
        (apt-get update && apt-get install -y --no-install-recommends bubblewrap \
         && rm -rf /var/lib/apt/lists/*) || echo "bubblewrap not installed: the local backend will be used"; \
    fi
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"
ENTRYPOINT ["python3", "-m", "sandbox", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD ["--backend", "auto", "--workers", "4"]
