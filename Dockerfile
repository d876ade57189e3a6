# policy-tagger REST API on CPU, in two stages:
#   build: installs torch and the training extra, converts the offline base, trains and exports the model;
#   serve: the package with its tagging dependencies only (ONNX Runtime; no torch, no transformers) and the
#          trained model folder, run as a non-root user.
#   docker build -t policy-tagger .        (or: make docker)
#   docker run -p 8000:8000 policy-tagger
# Where torch comes from is a build argument. The default is PyTorch's CPU index; a machine with the wheel on
# disk passes e.g. --build-arg TORCH_SOURCE="--find-links /opt/wheels" with that folder mounted into the build.
# TRAIN_ARGS passes options to `policy-tagger train` (the smoke script builds a small model with it, since it
# checks the image, not the accuracy).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_SOURCE="--index-url https://download.pytorch.org/whl/cpu"
ARG TRAIN_ARGS=""
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
WORKDIR /src
RUN pip install torch==2.13.0 ${TORCH_SOURCE}
COPY pyproject.toml README.md ./
COPY cli cli
COPY service service
COPY training training
COPY labels labels
RUN pip install ".[train]" && pip wheel --no-deps --no-build-isolation -w /wheels .
RUN policy-tagger train --train-file labels/data/train.jsonl --dev-file labels/data/dev.jsonl --out /model ${TRAIN_ARGS} && rm -rf /src/models

FROM ${PYTHON_IMAGE} AS serve
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false \
    POLICY_TAGGER_MODEL=/model POLICY_TAGGER_HOST=0.0.0.0 POLICY_TAGGER_PORT=8000
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /home/tagger --create-home tagger
COPY --from=build --chown=tagger /model /model
USER tagger
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"
CMD ["policy-tagger", "serve"]
