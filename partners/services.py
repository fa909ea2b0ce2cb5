"""Partner platforms: hospital grants, patients registered by a partner, its bookings, webhooks."""

import datetime
import hashlib
import hmac
import json
import logging
import time
import uuid

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.id_numbers import parse_resident_id
from accounts.models import Partner, Patient
from booking import services as booking_services
from booking.models import Appointment
from hospital.channels import Channel
from hospital.models import Hospital, HospitalStaff
from hospital.roles import staff_role
from partners import errors
from partners.models import HospitalGrant, PartnerWebhook, WebhookDelivery

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Grants


def _require_grant_manager(*, user, hospital_id: int) -> None:
    if staff_role(user=user, hospital_id=hospital_id) not in ("superuser", HospitalStaff.Role.HOSPITAL_ADMIN):
        raise errors.GrantRefused()


@transaction.atomic
def grant_hospital(*, partner: Partner, hospital: Hospital, by) -> HospitalGrant:
    """A hospital allows a partner in; its hospital_admin (or a superuser) decides."""
    _require_grant_manager(user=by, hospital_id=hospital.pk)
    try:
        with transaction.atomic():
            return HospitalGrant.objects.create(partner=partner, hospital=hospital, granted_by=by)
    except IntegrityError as exc:
        raise errors.AlreadyGranted() from exc


def revoke_grant(*, grant: HospitalGrant, by, now: datetime.datetime | None = None) -> bool:
    """Withdraw a grant: the partner's keys stop reaching the hospital at once. False if already revoked."""
    _require_grant_manager(user=by, hospital_id=grant.hospital_id)
    now = now or timezone.now()
    return bool(
        HospitalGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=by)
    )


# ---------------------------------------------------------------------------------------------
# Patients and bookings on a patient's behalf


def register_patient(*, partner: Partner, name: str, id_number: str, phone: str) -> Patient:
    """Find or create the real-name 就诊人 under the partner's service account.

    The person is the resident ID (its keyed hash), so bans and limits follow them across
    platforms and the patients' own accounts. Invalid input raises ValidationError by field.
    """
    try:
        resident = parse_resident_id(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    id_hash = Patient.document_hash(Patient.IdType.RESIDENT_ID, resident.number)
    mine = Patient.objects.filter(user=partner.user, id_number_hash=id_hash, is_active=True)
    patient = mine.first()
    if patient is None:
        patient = Patient(
            user=partner.user,
            name=name,
            gender=resident.gender,
            birth_date=resident.birth_date,
            relation=Patient.Relation.OTHER,
            id_type=Patient.IdType.RESIDENT_ID,
            id_number=resident.number,
            phone=phone,
        )
        patient.full_clean(exclude=["user"], validate_constraints=False)
        try:
            with transaction.atomic():
                patient.save()
        except IntegrityError:  # the same person registered by a concurrent request
            patient = mine.get()
    elif (patient.name, patient.phone) != (name, phone):
        patient.name, patient.phone = name, phone
        patient.full_clean(exclude=["user"], validate_constraints=False)
        patient.save(update_fields=["name", "phone", "phone_hash", "id_number", "id_number_hash"])
    return patient


def book_for_patient(*, partner: Partner, patient: Patient, slot, idempotency_key: str | None = None) -> Appointment:
    """Book in the partner channel; the booking engine's own rules and errors apply unchanged."""
    return booking_services.book_slot(
        user=partner.user, patient=patient, slot=slot, channel=Channel.PARTNER, idempotency_key=idempotency_key
    )


def cancel_for_patient(*, partner: Partner, appointment: Appointment, note: str = "") -> Appointment:
    return booking_services.cancel_appointment(user=partner.user, appointment=appointment, note=note)


def reschedule_for_patient(
    *, partner: Partner, appointment: Appointment, slot_id: int, idempotency_key: str | None = None
) -> Appointment:
    """改约 on the patient's behalf: the booking engine moves it within the partner channel.

    The old order's `rescheduled` change sends its webhook through the status signal; the new
    order (created, not changed) gets `appointment.rescheduled_in` here, once per move.
    """
    with transaction.atomic():
        moved = booking_services.reschedule_appointment(
            user=partner.user, appointment=appointment, slot_id=slot_id, idempotency_key=idempotency_key
        )
        if moved.status != Appointment.Status.AWAITING_DIFFERENCE:
            # A move held for its fee difference is not made yet: once paid, the old order's
            # `rescheduled` and the new one's `confirmed` webhooks tell the partner.
            record_rescheduled_in(appointment_id=moved.pk)
    return moved


def pay_for_patient(*, partner: Partner, appointment: Appointment, provider: str, method: str):
    return booking_services.pay_appointment(
        user=partner.user, appointment=appointment, provider=provider, method=method
    )


# ---------------------------------------------------------------------------------------------
# Webhooks


def webhook_event(status: str, cancel_reason: str) -> str:
    if status == Appointment.Status.CANCELLED and cancel_reason == Appointment.CancelReason.DOCTOR_SUSPENDED:
        return "appointment.suspended"  # 停诊
    return f"appointment.{status}"


RESCHEDULED_IN = "appointment.rescheduled_in"
_PAYLOAD_FIELDS = (
    "partner_id",
    "order_no",
    "hospital_id",
    "doctor_id",
    "slot_id",
    "visit_date",
    "queue_number",
    "cancel_reason",
    "updated_at",
    "rescheduled_from__order_no",
)


def record_status_change(*, appointment_id: int, status: str) -> WebhookDelivery | None:
    """Write the webhook for a partner appointment's status change, in the transaction that changed it.

    One query for any appointment (none of a partner with a webhook: nothing more happens);
    delivery is queued once the transaction commits.
    """
    row = _webhook_row(appointment_id)
    if row is None:
        return None
    if row["moving_from_id"] is not None and row["rescheduled_from__order_no"] is None:
        return None  # a move held for its fee difference that never completed: the partner never saw it
    return _write_delivery(row, event=webhook_event(status, row["cancel_reason"]), status=status)


def record_rescheduled_in(*, appointment_id: int) -> WebhookDelivery | None:
    """The order a 改约 created: one `appointment.rescheduled_in` per new order, even when the
    request is replayed (its event id derives from the order's primary key)."""
    row = _webhook_row(appointment_id)
    if row is None:
        return None
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{RESCHEDULED_IN}:{appointment_id}")
    if WebhookDelivery.objects.filter(event_id=event_id).exists():
        return None
    try:
        with transaction.atomic():
            return _write_delivery(row, event=RESCHEDULED_IN, status=row["status"], event_id=event_id)
    except IntegrityError:  # a concurrent replay of the same move wrote it first
        return None


def _webhook_row(appointment_id: int) -> dict | None:
    return (
        Appointment.objects.filter(pk=appointment_id, partner__webhook__is_active=True)
        .values(*_PAYLOAD_FIELDS, "status", "moving_from_id")
        .first()
    )


def _write_delivery(row: dict, *, event: str, status: str, event_id: uuid.UUID | None = None) -> WebhookDelivery:
    event_id = event_id or uuid.uuid4()
    payload = {
        "id": str(event_id),
        "event": event,
        "occurred_at": row["updated_at"].isoformat(),
        "appointment": {
            "order_no": row["order_no"],
            "status": status,
            "cancel_reason": row["cancel_reason"],
            "hospital": row["hospital_id"],
            "doctor": row["doctor_id"],
            "slot": row["slot_id"],
            "visit_date": row["visit_date"].isoformat(),
            "queue_number": row["queue_number"],
            "rescheduled_from": row["rescheduled_from__order_no"],
        },
    }
    delivery = WebhookDelivery.objects.create(
        partner_id=row["partner_id"],
        event_id=event_id,
        event=event,
        order_no=row["order_no"],
        payload=payload,
        next_attempt_at=timezone.now(),
    )
    enqueue_delivery(delivery.pk)
    return delivery


def enqueue_delivery(delivery_id: int) -> None:
    """Queue a delivery after commit; if the broker is down, the sweep sends it later."""
    from partners.tasks import deliver_webhook_task

    transaction.on_commit(lambda: deliver_webhook_task.delay(delivery_id), robust=True)


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """`X-Webhook-Signature`: sha256=hex(HMAC-SHA256(secret, "<timestamp>.<body>"))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(*, secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300) -> bool:
    """What a partner does on receipt (documented in the README): recompute, compare, check the age."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret=secret, timestamp=timestamp, body=body), signature)


def retry_delay(attempts: int) -> int:
    """Exponential backoff after the `attempts`-th failure: base, 2×base, 4×base … capped."""
    return min(
        settings.PARTNER_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.PARTNER_WEBHOOK_RETRY_MAX_SECONDS
    )


class TransientWebhookError(Exception):
    pass


def _post(*, webhook: PartnerWebhook, delivery: WebhookDelivery) -> requests.Response:
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "hospital-booking-webhook/1",
        "X-Webhook-Id": str(delivery.event_id),
        "X-Webhook-Event": delivery.event,
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": sign(secret=webhook.secret, timestamp=timestamp, body=body),
    }
    return requests.post(
        webhook.url, data=body, headers=headers, timeout=settings.PARTNER_WEBHOOK_TIMEOUT, allow_redirects=False
    )


def deliver_webhook(*, delivery_id: int, now: datetime.datetime | None = None) -> int | None:
    """One delivery attempt. Returns the seconds to wait before the next attempt, or None when done.

    Timeouts, connection errors, 429 and 5xx are transient and retried with exponential backoff
    up to PARTNER_WEBHOOK_MAX_ATTEMPTS; any other answer is final. Delivery is at least once:
    partners deduplicate by `X-Webhook-Id`.
    """
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).first()
    if delivery is None:
        return None
    webhook = PartnerWebhook.objects.filter(partner_id=delivery.partner_id, is_active=True).first()
    attempts = delivery.attempts + 1
    code, error, transient = None, "", False
    if webhook is None:
        error = "webhook disabled"
    else:
        try:
            response = _post(webhook=webhook, delivery=delivery)
        except requests.RequestException as exc:
            error, transient = f"{type(exc).__name__}: {exc}", True
        else:
            code = response.status_code
            if 200 <= code < 300:
                error = ""
            else:
                error = f"HTTP {code}: {response.text[:200]}"
                transient = code >= 500 or code == 429
    now = now or timezone.now()
    changes = {"attempts": F("attempts") + 1, "last_error": error[:500], "last_status_code": code}
    retry_in = None
    if webhook is not None and code is not None and 200 <= code < 300:
        changes.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif transient and attempts < settings.PARTNER_WEBHOOK_MAX_ATTEMPTS:
        retry_in = retry_delay(attempts)
        changes["next_attempt_at"] = now + datetime.timedelta(seconds=retry_in)
    else:
        changes.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(**changes)
    if error:
        logger.warning("webhook %s to partner %s: %s", delivery.event_id, delivery.partner_id, error)
    return retry_in


def resend_delivery(*, delivery: WebhookDelivery, now: datetime.datetime | None = None) -> None:
    """Put a delivery back in the queue (the admin action): a fresh round of attempts."""
    now = now or timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=now, last_error=""
        )
        enqueue_delivery(delivery.pk)


def deliver_due_webhooks(*, now: datetime.datetime | None = None, limit: int = 200) -> int:
    """The sweep: queue pending deliveries whose next attempt is overdue (a lost message, a broker outage)."""
    now = now or timezone.now()
    overdue = now - datetime.timedelta(seconds=settings.PARTNER_WEBHOOK_SWEEP_GRACE_SECONDS)
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=overdue
    ).values_list("pk", flat=True)[:limit]
    ids = list(due)
    for delivery_id in ids:
        with transaction.atomic():
            enqueue_delivery(delivery_id)
    return len(ids)
