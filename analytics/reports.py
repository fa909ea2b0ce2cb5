"""The queue report as one object, shared by `manage.py queue_report` and the admin page."""

import datetime
from dataclasses import dataclass

from analytics import selectors
from analytics.selectors import AdmissionEstimate, CapacityPlan, MeasuredServer


@dataclass
class QueueReport:
    plan: CapacityPlan
    admission: AdmissionEstimate
    measured: MeasuredServer | None
    release_peak_per_minute: int
    arrival_rate_source: str


def queue_report(
    *,
    hospital_id: int,
    department_id: int,
    date_from: datetime.date,
    date_to: datetime.date,
    target_wait_minutes: float = 15,
    segment_minutes: int = 30,
    target_p99_ms: float = 500,
    arrival_rate: float | None = None,
    service_rate: float | None = None,
) -> QueueReport:
    """Capacity plan of a department plus the admission-control estimate of the booking endpoint.

    The release-minute arrival rate is the busiest minute of online attempts the hospital saw in
    the period (unless given); the service rate is the benchmark's (unless given), else the
    documented default `selectors.DEFAULT_SERVICE_RATE`.
    """
    plan = selectors.capacity_plan(
        hospital_id=hospital_id,
        department_id=department_id,
        date_from=date_from,
        date_to=date_to,
        target_wait_minutes=target_wait_minutes,
        segment_minutes=segment_minutes,
    )
    peak = selectors.release_minute_peak(hospital_id=hospital_id, date_from=date_from, date_to=date_to)
    measured = selectors.measured_server()
    if service_rate is not None:
        rate, source = service_rate, "--service-rate"
    elif measured is not None:
        rate, source = measured.service_rate, f"bench/results/{measured.source}"
    else:
        rate, source = selectors.DEFAULT_SERVICE_RATE, "default (no bench/results/*.json)"
    if arrival_rate is not None:
        arrivals, arrival_source = arrival_rate, "--arrival-rate"
    else:
        arrivals, arrival_source = peak / 60, "release-minute peak"
    admission = selectors.admission_control(
        arrival_rate=arrivals, service_rate=rate, source=source, target_p99_ms=target_p99_ms
    )
    return QueueReport(
        plan=plan,
        admission=admission,
        measured=measured,
        release_peak_per_minute=peak,
        arrival_rate_source=arrival_source,
    )
