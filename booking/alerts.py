"""到号提醒 on booking's side: what a topic means, and when its subscribers are told or done.

Subscriptions themselves live in notifications (a leaf that knows nothing of doctors or
sessions): a topic is a name booking gives ("doctor:<id>", "schedule:<id>"). Booking tells
notifications when a day is released, when a place frees up in a session (after the change has
committed, and only if a patient could book it now), and when a subscriber has booked.
"""

import datetime
import itertools

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import eligibility
from notifications import services as notifications
from notifications.templates_sms import format_date
from scheduling.models import Schedule, Slot


def doctor_topic(doctor_id: int) -> str:
    return f"doctor:{doctor_id}"


def schedule_topic(schedule_id: int) -> str:
    return f"schedule:{schedule_id}"


def session_text(schedule: Schedule) -> str:
    """12月3日上午"""
    return f"{format_date(schedule.date)}{schedule.get_period_display()}"


def _names(schedule: Schedule) -> dict:
    return {
        "hospital": schedule.doctor.hospital.name,
        "department": schedule.department.name,
        "doctor": schedule.doctor.name,
    }


def _sessions():
    return Schedule.objects.select_related("doctor__hospital", "department")


def bookable_now(schedule: Schedule, *, now: datetime.datetime) -> bool:
    """Whether a patient could book an online place in this session right now (first come, first served)."""
    if schedule.status != Schedule.Status.PUBLISHED or now < schedule.release_at:
        return False
    if schedule.uses_requests and schedule.drawn_at is None:
        return False
    rules = eligibility.schedule_rules(schedule)
    return Slot.objects.filter(
        schedule=schedule,
        is_open=True,
        online_booked__lt=F("online_capacity"),
        start_at__gt=now + datetime.timedelta(minutes=rules.close_minutes_before_start),
    ).exists()


def announce_freed_place(*, schedule_id: int, now: datetime.datetime | None = None) -> int:
    """A place came back in a session: tell its subscribers, once per session, if it is still free."""
    now = now or timezone.now()
    schedule = _sessions().filter(pk=schedule_id).first()
    if schedule is None or not bookable_now(schedule, now=now):
        return 0  # taken by the waitlist in the same transaction, suspended, closed, or a draw pending
    topic = schedule_topic(schedule.pk)
    return notifications.notify_topic(
        topic=topic,
        event=topic,  # at most one message per session, however many places come back
        template="alert_slot_freed",
        params={**_names(schedule), "session": session_text(schedule)},
    )


def announce_released_day(*, schedule_ids: list[int], day: datetime.date) -> int:
    """A day was released: tell each doctor's subscribers once for that day."""
    told = 0
    schedules = _sessions().filter(pk__in=schedule_ids, status=Schedule.Status.PUBLISHED)
    schedules = schedules.order_by("doctor_id", "start_at")
    for doctor_id, sessions in itertools.groupby(schedules, key=lambda s: s.doctor_id):
        first = next(sessions)
        topic = doctor_topic(doctor_id)
        told += notifications.notify_topic(
            topic=topic,
            event=f"{topic}:{day.isoformat()}",
            template="alert_day_released",
            params={**_names(first), "day": day},
        )
    return told


def end_after_booking(*, user_id: int, doctor_id: int, schedule_id: int) -> int:
    """The subscriber booked this doctor: their 到号提醒 for the doctor and the session end."""
    return notifications.end_subscriptions(
        user_id=user_id, topics=[doctor_topic(doctor_id), schedule_topic(schedule_id)]
    )


def subscribe_to_doctor(*, user, doctor):
    return notifications.subscribe(
        user=user,
        topic=doctor_topic(doctor.pk),
        label=_("%(hospital)s %(doctor)s医生 新号源开放") % {"hospital": doctor.hospital.name, "doctor": doctor.name},
        link=f"/doctors/{doctor.pk}/",
    )


def subscribe_to_session(*, user, schedule: Schedule):
    return notifications.subscribe(
        user=user,
        topic=schedule_topic(schedule.pk),
        label=_("%(hospital)s %(doctor)s医生 %(session)s 有号空出")
        % {
            "hospital": schedule.doctor.hospital.name,
            "doctor": schedule.doctor.name,
            "session": session_text(schedule),
        },
        link=f"/doctors/{schedule.doctor_id}/",
    )
