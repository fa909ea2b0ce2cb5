import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from payments.models import Payment, Refund


def payments_of(*, order_no: str) -> QuerySet[Payment]:
    return Payment.objects.filter(order_no=order_no).order_by("created_at", "pk")


def open_payments_of(*, order_no: str, charge: str | None = None) -> QuerySet[Payment]:
    """The order's payments still waiting for the payer: of every charge, or of one."""
    payments = payments_of(order_no=order_no).filter(status__in=Payment.OPEN_STATUSES)
    return payments if charge is None else payments.filter(charge=charge)


def paid_payment_of(*, order_no: str, charge: str = "") -> Payment | None:
    """The payment that holds one charge of the order (by default its own amount); at most one."""
    return Payment.objects.filter(order_no=order_no, charge=charge, status=Payment.Status.PAID).first()


def charge_was_paid(*, order_no: str, charge: str) -> bool:
    """Whether money for this charge of the order ever arrived (it may be refunded since)."""
    return payments_of(order_no=order_no).filter(charge=charge, paid_at__isnull=False).exists()


def money_held_for(*, order_no: str) -> bool:
    """Whether any payment of the order still holds money (paid, or with a refund still under way)."""
    return payments_of(order_no=order_no).filter(status__in=[Payment.Status.PAID, Payment.Status.REFUNDING]).exists()


def latest_refund_of(*, order_no: str) -> Refund | None:
    return (
        Refund.objects.select_related("payment")
        .filter(payment__order_no=order_no)
        .exclude(status=Refund.Status.FAILED)
        .order_by("-created_at", "-pk")
        .first()
    )


def payment_for_page(*, payment_id: int) -> Payment | None:
    return Payment.objects.filter(pk=payment_id).first()


def local_day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))
    return start, end


def unsettled_payments_created_on(*, day: datetime.date) -> QuerySet[Payment]:
    """Payments created that local day that hold no money here: still open, or closed by us.

    Closed ones are asked about too: a provider can still take a payer's money after our close
    (an Alipay trade that did not exist yet when it was closed), and if that notification was
    lost only reconciliation finds it. The switched-off sandbox holds no money.
    """
    start, end = local_day_bounds(day)
    return (
        Payment.objects.filter(created_at__gte=start, created_at__lt=end)
        .filter(Q(status__in=Payment.OPEN_STATUSES) | (Q(status=Payment.Status.CLOSED) & ~Q(provider="sandbox")))
        .order_by("created_at", "pk")
    )


def refunds_in_flight(*, created_on: datetime.date | None = None, older_than: datetime.timedelta | None = None):
    refunds = Refund.objects.select_related("payment").filter(status__in=Refund.IN_FLIGHT_STATUSES)
    if created_on is not None:
        start, end = local_day_bounds(created_on)
        refunds = refunds.filter(payment__created_at__gte=start, payment__created_at__lt=end)
    if older_than is not None:
        refunds = refunds.filter(updated_at__lte=timezone.now() - older_than)
    return refunds.order_by("created_at", "pk")
