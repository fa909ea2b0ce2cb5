"""`make run` leaves no process behind, however it is stopped (Ctrl-C, SIGTERM, SIGHUP, or killed).

A tiny Procfile stands in for web, worker and beat: `make serve` starts it exactly the way
`make run` does, after its setup steps. Ctrl-C and a closed terminal signal the whole
foreground process group (GNU make relies on that: on SIGINT and SIGHUP it waits for its
children instead of passing the signal on); `kill <pid>` sends SIGTERM to make alone, which
make passes to its child; SIGKILL gives make no say at all.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

ROOT = Path(settings.BASE_DIR)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has stopped; only its exit status is left


def session_members(sid: int) -> set[int]:
    members = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:
            members.add(int(entry.name))
    return members


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize(
    ("signum", "to_group"),
    [
        (signal.SIGTERM, False),  # kill <make pid>
        (signal.SIGTERM, True),  # kill -TERM -<pgid>, as a service manager does
        (signal.SIGHUP, True),  # the terminal closes
        (signal.SIGINT, True),  # Ctrl-C
        (signal.SIGKILL, False),  # make dies without a word
    ],
)
def test_stopping_make_stops_every_process_of_the_procfile(tmp_path, signum, to_group):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "".join(f"{name}: echo $$ > {tmp_path}/{name}.pid; exec sleep 300\n" for name in ("web", "worker", "beat"))
    )
    pid_files = [tmp_path / f"{name}.pid" for name in ("web", "worker", "beat")]
    log = (tmp_path / "make.log").open("w")
    make = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), "serve", f"PROCFILE={procfile}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own session: the test's signal reaches make alone
    )
    started = []
    try:
        assert wait_for(lambda: all(f.exists() and f.read_text().strip() for f in pid_files), 20), "stack never started"
        started = [int(f.read_text()) for f in pid_files]
        everything = session_members(make.pid) | set(started)
        assert all(alive(pid) for pid in started)

        if to_group:
            os.killpg(make.pid, signum)
        else:
            os.kill(make.pid, signum)

        assert wait_for(lambda: not any(alive(pid) for pid in everything), 20), (
            f"left running: {[pid for pid in everything if alive(pid)]}\n{(tmp_path / 'make.log').read_text()}"
        )
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        make.wait(timeout=5)
        log.close()
