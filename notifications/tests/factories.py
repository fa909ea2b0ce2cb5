import factory

from notifications.models import NotificationLog
from notifications.templates_sms import get_template


class NotificationLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationLog

    phone = factory.Sequence(lambda n: f"139{n:08d}")
    template = "refund_completed"
    params = factory.LazyAttribute(lambda o: {"patient": "张三", "order_no": "R20250101001", "amount": "12.50"})
    text = factory.LazyAttribute(lambda o: get_template(o.template).render(o.params))
