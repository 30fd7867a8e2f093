# ServeScope images, one Dockerfile, two targets:
#   dashboard (default)  the Streamlit app + the client, REST and gRPC (the `grpc` extra; no TensorFlow), on 8502
#   model-builder        adds the `serving` extra (TensorFlow) to run `python -m pets.build` (and `python -m serving`)
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY client/ client/
COPY dashboard/ dashboard/
COPY pets/ pets/
COPY serving/ serving/
COPY app_pages/ app_pages/
COPY streamlit_app.py dashboard_app.py ./
COPY .streamlit/ .streamlit/
RUN useradd --create-home --uid 1000 servescope

FROM base AS model-builder
RUN pip install ".[serving]"
USER servescope
ENV TF_CPP_MIN_LOG_LEVEL=2
ENTRYPOINT ["python", "-m", "pets.build"]

FROM base AS dashboard
# The `grpc` extra (grpcio, protobuf): server addresses may be gRPC ones, e.g. grpc://serving:8500.
RUN pip install ".[grpc]"
USER servescope
EXPOSE 8502
ENV TF_SERVING_URL=http://serving:8501
# dashboard_app.py: Streamlit's ASGI mode with the Host check; a browser must reach the dashboard as localhost,
# 127.0.0.1, [::1] or a name in SERVESCOPE_ALLOWED_HOSTS (docs/security.md).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8502/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "dashboard_app.py", "--server.address=0.0.0.0", "--server.port=8502"]
