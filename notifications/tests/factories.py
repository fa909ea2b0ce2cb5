import factory

from notifications.models import NotificationLog, phone_lookup_hash
from notifications.templates_sms import get_template


class NotificationLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationLog

    phone = factory.Sequence(lambda n: f"139{n:08d}")
    phone_hash = factory.LazyAttribute(lambda o: phone_lookup_hash(o.phone))
    template = "payment_expired"
    params = factory.LazyAttribute(lambda o: {"patient": "张三", "order_no": "R20250101001"})
    text = factory.LazyAttribute(lambda o: get_template(o.template).render(o.params))
