from django import template

register = template.Library()


@register.inclusion_tag("desk/dashboard.html", takes_context=True)
def hospital_dashboard(context):
    """The admin index's numbers for the user's hospital, read from the nightly snapshot table."""
    from desk.selectors import dashboard
    from desk.views import current_desk

    request = context.get("request")
    if request is None or not request.user.is_authenticated or not request.user.is_staff:
        return {"show": False}
    desk = current_desk(request)
    if desk is None:
        return {"show": False, "superuser": request.user.is_superuser}
    data = {"show": True, "desk": desk}
    if desk.role in ("superuser", "hospital_admin", "scheduler", "front_desk"):
        data["stats"] = dashboard(hospital_id=desk.hospital.pk)
        data["chart"] = _bars(data["stats"]["per_day"])
        data["department_bars"] = _fill_bars(data["stats"]["departments"])
        data["channel_bars"] = _fill_bars(data["stats"]["channels"])
    return data


def _fill_bars(rows: list[dict], *, width: int = 240, row_height: int = 22) -> dict:
    """Horizontal fill-rate bars (label, bar, "booked/capacity percent") laid out for an inline SVG."""
    bars = []
    for i, row in enumerate(rows):
        y = i * row_height
        bars.append({**row, "y": y + 4, "ty": y + 16, "w": round(width * min(row["percent"], 100) / 100)})
    return {"bars": bars, "height": max(len(rows), 1) * row_height, "width": width}


def _bars(per_day: list[dict], *, width: int = 420, height: int = 120) -> list[dict]:
    """Bars of the last seven days' bookings, laid out for an inline SVG."""
    peak = max((d["count"] for d in per_day), default=0) or 1
    step = width // max(len(per_day), 1)
    bars = []
    for i, d in enumerate(per_day):
        h = round((height - 20) * d["count"] / peak)
        bars.append({"x": i * step + 6, "y": height - 16 - h, "w": step - 12, "h": h, "count": d["count"],
                     "label": d["date"].strftime("%m-%d"), "ly": height - 2, "ty": height - 20 - h})  # fmt: skip
    return bars
