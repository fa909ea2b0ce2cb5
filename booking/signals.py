"""What booking announces to the apps above it (partners), which booking itself never imports.

`appointment_status_changed` (sender=Appointment, appointment_id=…, status=…) is sent by
`booking.places.change_status` for every status change, inside the transaction that made it:
a receiver may write its own rows in that transaction (an outbox), and must defer anything
outside the database to `transaction.on_commit`. A receiver that raises rolls the change back,
so receivers keep to a query and an insert.
"""

from django.dispatch import Signal

appointment_status_changed = Signal()
