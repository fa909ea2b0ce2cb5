"""`{% doctor_chance doctor.pk %}`: the doctor's historical booking-success chance on patient pages.

A template tag, so the pages of apps below analytics (the doctor page lives in scheduling) show
it without importing analytics.
"""

from django import template

from analytics.selectors import historical_chance

register = template.Library()


@register.inclusion_tag("analytics/_doctor_chance.html")
def doctor_chance(doctor_id: int, now=None) -> dict:
    found = historical_chance(doctor_id=doctor_id, now=now)
    return {
        "policy": found["policy"],
        "percent": None if found["chance"] is None else round(found["chance"] * 100),
        "sessions": found["sessions"],
        "since": found["since"],
        "open_lotteries": [
            {**lottery, "percent": round(lottery["chance"] * 100)} for lottery in found["open_lotteries"]
        ],
    }
