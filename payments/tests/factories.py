import datetime

import factory
from django.utils import timezone

from payments.models import Method, Payment, Provider, Refund


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order_no = factory.Sequence(lambda n: f"GH{n:010d}")
    provider = Provider.ALIPAY
    method = Method.WAP
    amount_fen = 1250
    subject = "门诊挂号费"
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(minutes=10))


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(
        PaymentFactory, status=Payment.Status.REFUNDING, paid_at=factory.LazyFunction(timezone.now)
    )
    amount_fen = factory.SelfAttribute("payment.amount_fen")
    reason = "取消预约"
