"""gunicorn settings for the ``web`` process (``gunicorn -c web/gunicorn_conf.py 'web.app:create_app()'``).

Prepares the prometheus multiprocess directory before any worker imports the app, and marks
dead workers so their samples stop counting (platform §11.1).
"""

import os
import shutil
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads per worker: a request mostly waits on PostgreSQL (commit) and Redis, so a sync worker sits idle
# through it; 4 threads per process doubled trigger throughput in bench/bench_triggers.py.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 25
accesslog = None  # the app logs one JSON line per request
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                                     os.path.join(tempfile.gettempdir(), f"keel-prometheus-{os.getpid()}"))


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn hook
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
