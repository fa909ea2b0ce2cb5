"""What scheduling announces to the apps above it, which scheduling itself never imports.

`day_released` (sender=Release, hospital_id=…, day=date, schedule_ids=[…]) is sent by
`release_day` once a hospital's day has come inside the booking window, been generated and
published, after the transaction that recorded the release has committed. Receivers (到号提醒,
the availability cache) must be idempotent: a caught-up release may announce a day late, and
a receiver that raises is logged, not retried by the sender.
"""

from django.dispatch import Signal

day_released = Signal()
