import logging
import time
from contextlib import contextmanager
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.phones import normalize_mobile
from accounts.pii import mask_phone
from notifications.backends import SmsMessage, get_backend
from notifications.errors import SmsDeliveryBusy, SmsPermanentError, SmsTemplateError, SmsTransientError
from notifications.models import EndReason, NotificationLog, Subscription
from notifications.templates_sms import SMS_TEMPLATES, get_template

logger = logging.getLogger("notifications")

# One first try plus the task's five retries; the last transient failure is final.
MAX_ATTEMPTS = 6
# The first key of the (int, int) advisory locks held while an SMS is delivered.
ADVISORY_LOCK_SPACE = 7301
LOCK_WAIT_SECONDS = 3.0


def send_sms(*, phone: str, template: str, params: dict, dedupe_key: str | None = None) -> NotificationLog:
    """Record an SMS and deliver it after the caller's transaction commits.

    A bad template code or parameters raise SmsTemplateError here, at the call; provider
    trouble never reaches the caller. With a `dedupe_key`, a repeated call (a job run twice)
    returns the first log and sends nothing more.
    """
    sms_template = get_template(template)
    cleaned = sms_template.clean_params(params)
    phone = normalize_mobile(phone)
    if dedupe_key:
        existing = NotificationLog.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    log = NotificationLog(
        phone=phone,
        template=template,
        params=cleaned,
        text=sms_template.render(cleaned),
        dedupe_key=dedupe_key or None,
    )
    if not dedupe_key:
        log.save()  # one INSERT: in the caller's transaction, or on its own after a commit
    else:
        try:
            with transaction.atomic():
                log.save()
        except IntegrityError:  # a concurrent call with the same dedupe_key won the insert
            return NotificationLog.objects.get(dedupe_key=dedupe_key)
    from notifications.tasks import deliver_sms_task

    # robust: a broker or eager-mode failure is logged and leaves the row pending for the
    # sweeper; it never turns the caller's committed booking into an error.
    transaction.on_commit(lambda: deliver_sms_task.delay(log.id), robust=True)
    return log


@contextmanager
def _delivery_lock(log_id: int):
    """Whether this process may deliver the message now: a PostgreSQL session advisory lock on it.

    The lock lives exactly as long as the holder's database connection, so a worker killed in
    the middle of a send (kill -9, OOM, a lost node) lets go of it at once, and the broker's
    redelivery takes over; while a live worker holds it, a second delivery of the same id does
    nothing. Other databases (SQLite for `make run`, with its broker that never redelivers) run
    without it.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    # A killed holder's lock goes when PostgreSQL notices its connection closed, a moment later:
    # wait a little for it rather than give its redelivery up.
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_LOCK_SPACE, log_id])
            held = cursor.fetchone()[0]
        if held or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_SPACE, log_id])


def deliver_sms(*, log_id: int) -> None:
    """Send one pending SMS through the configured backend, at most once.

    Not atomic on purpose: the attempt is counted and committed before the provider call, and
    no row lock is held over the network. What keeps a second worker away is the delivery lock
    (see `_delivery_lock`). A row found `sending` by a worker that holds the lock is one whose
    previous attempt died with its process: it is sent now by this redelivery, and after
    MAX_ATTEMPTS such deaths it is marked failed, so a message that kills its worker every time
    stops being redelivered. A transient failure puts the row back to pending and raises
    SmsTransientError for the task to retry; the last allowed attempt marks it failed instead.
    """
    with _delivery_lock(log_id) as held:
        if not held:
            raise SmsDeliveryBusy(f"SMS {log_id} is being delivered by another process")
        claimed = NotificationLog.objects.filter(
            pk=log_id, status__in=(NotificationLog.Status.PENDING, NotificationLog.Status.SENDING)
        ).update(status=NotificationLog.Status.SENDING, attempts=F("attempts") + 1)
        if not claimed:
            return
        _send_claimed(NotificationLog.objects.get(pk=log_id))


def _send_claimed(log: NotificationLog) -> None:
    log_id = log.pk
    if log.attempts > MAX_ATTEMPTS:
        died = log.attempts - 1
        _finish(
            log, status=NotificationLog.Status.FAILED, error=f"gave up after {died} attempts: the worker died in each"
        )
        logger.error("SMS %s to %s failed: its worker died in %s attempts", log.pk, mask_phone(log.phone), died)
        return
    try:
        sms_template = get_template(log.template)
        backend = get_backend()
        log.provider = backend.name
        NotificationLog.objects.filter(pk=log_id).update(provider=backend.name)
        message_id = backend.send(
            SmsMessage(log_id=log.pk, phone=log.phone, template=sms_template, params=log.params, text=log.text)
        )
    except SmsTransientError as exc:
        if log.attempts >= MAX_ATTEMPTS:
            _finish(log, status=NotificationLog.Status.FAILED, error=f"{exc} (gave up after {log.attempts} attempts)")
            logger.warning("SMS %s to %s failed for good: %s", log.pk, mask_phone(log.phone), exc)
            return
        NotificationLog.objects.filter(pk=log_id, status=NotificationLog.Status.SENDING).update(
            status=NotificationLog.Status.PENDING, error=str(exc)
        )
        logger.info("SMS %s to %s will be retried: %s", log.pk, mask_phone(log.phone), exc)
        raise
    except (SmsPermanentError, SmsTemplateError, ImproperlyConfigured) as exc:
        _finish(log, status=NotificationLog.Status.FAILED, error=str(exc))
        logger.error("SMS %s to %s failed: %s", log.pk, mask_phone(log.phone), exc)
        return
    except Exception as exc:
        _finish(log, status=NotificationLog.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    _finish(log, status=NotificationLog.Status.SENT, provider_message_id=message_id or "")


def _finish(log: NotificationLog, *, status: str, error: str = "", provider_message_id: str = "") -> None:
    """Final state; values a template marks sensitive (verification codes) are wiped from the log."""
    params, text = log.params, log.text
    template = SMS_TEMPLATES.get(log.template)
    if template is not None and template.sensitive:
        params = template.redact(log.params)
        text = template.render(params)
    NotificationLog.objects.filter(pk=log.pk, status=NotificationLog.Status.SENDING).update(
        status=status,
        error=error,
        provider_message_id=provider_message_id,
        sent_at=timezone.now() if status == NotificationLog.Status.SENT else None,
        params=params,
        text=text,
    )


def requeue_pending_sms(*, older_than: timedelta = timedelta(minutes=15)) -> int:
    """Enqueue delivery again for rows still pending after `older_than`: a message published on
    commit while the broker was down (kept as this row, logged, never raised to the caller), or
    lost with the broker. Rows left `sending` by a worker that died and whose message is gone
    are taken again too.

    Safe to run at any time: delivery takes the delivery lock and claims the row, so a row whose
    retry is merely waiting, or that a live worker is sending right now, is sent once.
    """
    from notifications.tasks import deliver_sms_task

    cutoff = timezone.now() - older_than
    ids = list(
        NotificationLog.objects.filter(
            status__in=(NotificationLog.Status.PENDING, NotificationLog.Status.SENDING), created_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for log_id in ids:
        deliver_sms_task.delay(log_id)
    return len(ids)


# 到号提醒 (subscriptions) --------------------------------------------------------------------------


def subscribe(*, user, topic: str, label: str, link: str = "") -> Subscription:
    """Start (or keep) the account's subscription to `topic`; subscribing twice changes nothing."""
    existing = Subscription.objects.filter(user=user, topic=topic, ended_at__isnull=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Subscription.objects.create(user=user, topic=topic, label=label[:120], link=link[:200])
    except IntegrityError:
        # The same account subscribed at the same moment (a double click): keep the first.
        return Subscription.objects.get(user=user, topic=topic, ended_at__isnull=True)


def unsubscribe(*, user, subscription_id: int) -> bool:
    """The subscriber stops it. False when it is not theirs or already ended."""
    return bool(
        Subscription.objects.filter(pk=subscription_id, user=user, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=EndReason.CANCELLED
        )
    )


def end_subscriptions(*, user_id: int, topics: list[str], reason: str = EndReason.BOOKED) -> int:
    """End the account's active subscriptions to these topics (they booked): no more messages."""
    return Subscription.objects.filter(user_id=user_id, topic__in=topics, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )


def notify_topic(*, topic: str, event: str, template: str, params: dict) -> int:
    """Tell every active subscriber of `topic` that `event` happened: an SMS and a notice on the site.

    One SMS per subscriber per event, however often the event is announced (the SMS log's
    dedupe key is the account and the event): the caller names the event so that "at most one
    per session" holds, e.g. event "schedule:34" for any place freed in that session. `params`
    are the template's, without `name`, which is the subscriber's. Returns how many were told.
    """
    now = timezone.now()
    told = 0
    subscriptions = Subscription.objects.filter(topic=topic, ended_at__isnull=True).select_related("user")
    for subscription in subscriptions.order_by("pk"):
        user = subscription.user
        dedupe_key = f"alert:{user.pk}:{event}"
        if not user.is_active or not user.phone or NotificationLog.objects.filter(dedupe_key=dedupe_key).exists():
            continue
        log = send_sms(phone=user.phone, template=template, params={**params, "name": user.name}, dedupe_key=dedupe_key)
        Subscription.objects.filter(pk=subscription.pk).update(notified_at=now, notice=log.text[:300])
        told += 1
    return told
