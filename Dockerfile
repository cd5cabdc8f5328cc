FROM python:3.13-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.13-slim
RUN useradd --create-home --uid 10001 audiences
COPY --from=build /install /usr/local
USER audiences
WORKDIR /home/audiences
ENV AUDIENCES_DATA_DIR=/home/audiences/data PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["audiences", "serve", "--host", "0.0.0.0", "--port", "8000"]
