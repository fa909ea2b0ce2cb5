"""The Celery app a fault-injection test runs as a real worker subprocess:
`celery -A config.tests.fault_worker worker …`. It is the project's own app (config.celery),
with the SMS backend and the sandbox payment provider wrapped so a test can see, from the
outside, when a send or a refund has started and when it has finished:

- FAULT_DIR/started.log gets "<kind> <id> <pid>" when one starts (then it sleeps FAULT_SLEEP s:
  the window the test kills the worker in);
- FAULT_DIR/done.log gets "<kind> <id>" when it reached the provider and came back: the count
  of lines per id is how many times it really happened.

The console backend still prints the message; the sandbox still answers the refund. With
FAULT_SUICIDE=1 every SMS send kills its own process instead (a message that always crashes).
"""

import os
import signal
import time
from pathlib import Path

from celery import signals

from config.celery import app
from notifications.backends.console import ConsoleBackend

__all__ = ["ObservedConsoleBackend", "app"]

# How long the worker waits for a result from a child that died before it calls the child lost
# and rejects (requeues) its message: 10 s by default; the tests kill children by the dozen.
app.conf.worker_lost_wait = 0.5


def _record(name: str, line: str) -> None:
    with open(Path(os.environ["FAULT_DIR"]) / name, "a") as log:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())


def _window(kind: str, ident) -> None:
    _record("started.log", f"{kind} {ident} {os.getpid()}")
    time.sleep(float(os.environ.get("FAULT_SLEEP", "0")))


class ObservedConsoleBackend(ConsoleBackend):
    name = "console"

    def send(self, message):
        if os.environ.get("FAULT_SUICIDE") == "1":
            _record("started.log", f"sms {message.log_id} {os.getpid()}")
            os.kill(os.getpid(), signal.SIGKILL)
        _window("sms", message.log_id)
        message_id = super().send(message)
        _record("done.log", f"sms {message.log_id}")
        return message_id


@signals.worker_init.connect
def _observe_refunds(**kwargs):
    from payments import providers
    from payments.providers.sandbox import SandboxProvider

    class ObservedSandbox(SandboxProvider):
        def refund(self, refund):
            _window("refund", refund.refund_no)
            report = super().refund(refund)
            _record("done.log", f"refund {refund.refund_no}")
            return report

    providers.BUILDERS["sandbox"] = ObservedSandbox
