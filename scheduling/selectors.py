from django.db.models import F, QuerySet

from hospital.channels import CHANNEL_ORDER, Channel
from scheduling.models import Schedule, Slot


def slots_for_patients(*, schedule: Schedule) -> QuerySet[Slot]:
    """A session's open slots with `places_left`: the online places a patient can still book."""
    return (
        Slot.objects.filter(schedule=schedule, is_open=True)
        .annotate(places_left=F(f"{Channel.ONLINE}_capacity") - F(f"{Channel.ONLINE}_booked"))
        .order_by("start_at")
    )


def slots_for_staff(*, schedule: Schedule) -> QuerySet[Slot]:
    """Every slot with each channel's free places (`online_left`, `partner_left`, …) and the total."""
    left = {f"{channel}_left": F(f"{channel}_capacity") - F(f"{channel}_booked") for channel in CHANNEL_ORDER}
    return (
        Slot.objects.filter(schedule=schedule)
        .annotate(places_left=F("capacity") - F("booked"), **left)
        .order_by("start_at")
    )
