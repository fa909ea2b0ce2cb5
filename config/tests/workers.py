"""A real Celery worker as a subprocess against a real broker, for the fault-injection tests.

The test process publishes to the broker too (eager mode off, its own queue name, so other
sessions sharing the broker never see these messages) and the worker reads the test database.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

import kombu
from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/0"
# Nothing listens on port 1: a broker that is down.
DEAD_BROKER = "amqp://guest:guest@127.0.0.1:1//"


def _reset_publisher():
    """Forget the app's pools so the next publish uses the current broker_url. The pools
    themselves live on in kombu's registry (one per broker URL), so they are not closed."""
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def publishing_to(broker_url: str, queue: str):
    conf = app.conf
    saved = {key: conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")}
    conf.update(broker_url=broker_url, task_always_eager=False, task_default_queue=queue)
    _reset_publisher()
    try:
        yield
    finally:
        conf.update(saved)
        _reset_publisher()


def new_queue() -> str:
    return f"wt21-faults-{uuid.uuid4().hex[:10]}"


def delete_queue(broker_url: str, queue: str) -> None:
    with kombu.Connection(broker_url, connect_timeout=2) as conn, suppress(Exception):  # already gone
        conn.default_channel.queue_delete(queue)


class Worker:
    """`celery -A config.tests.fault_worker worker` on one queue, prefork children, in its own session."""

    def __init__(self, *, broker_url: str, queue: str, fault_dir: Path, concurrency: int = 1, **env):
        self.broker_url, self.queue, self.fault_dir = broker_url, queue, fault_dir
        self.concurrency = concurrency
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "SMS_BACKEND": "config.tests.fault_worker.ObservedConsoleBackend",
            "PAYMENTS_SANDBOX": "1",
            "FAULT_DIR": str(fault_dir),
            "CELERY_REDIS_RESTORE_INTERVAL": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(self.fault_dir / f"worker-{self.starts}.log", "wb")  # noqa: SIM115  (the child writes it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config.tests.fault_worker", "worker", "-P", "prefork",
             "-c", str(self.concurrency), "-Q", self.queue, "-n", f"{self.queue}-{self.starts}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def kill(self):
        """kill -9 the whole worker: its main process and its pool child."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def child_pid(self) -> int | None:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except (FileNotFoundError, AttributeError):
            return None
        return int(children[0]) if children else None

    def output(self) -> str:
        return "\n".join(
            (self.fault_dir / f"worker-{n}.log").read_text(errors="replace") for n in range(1, self.starts + 1)
        )


def lines(fault_dir: Path, name: str) -> list[str]:
    path = fault_dir / name
    return path.read_text().splitlines() if path.exists() else []


def wait_for(condition, *, timeout: float = 60, what: str = "", worker: Worker | None = None):
    """Poll until `condition()` is truthy. A generous limit only stops a broken run; nothing is timed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(
        f"gave up waiting for {what}" + (f"\n--- worker output ---\n{worker.output()}" if worker else "")
    )
