"""The one boundary where payments speaks to the rest of the system.

`payment_succeeded` (sender=Payment, payment=...) is sent exactly once per payment, inside the
transaction that marks it paid. `refund_succeeded` (sender=Refund, refund=...) is sent exactly once
per refund, inside the transaction that marks it succeeded. A receiver that raises rolls the
change back, so the provider's retry (or the next query) applies it again.
"""

from django.dispatch import Signal

payment_succeeded = Signal()
refund_succeeded = Signal()
