"""Errors a patient, staff member or partner can cause when booking; each has a stable `code`."""

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class BookingError(DomainError):
    status = 409


class NotReleasedYet(BookingError):
    code = "not_released_yet"
    message = _("该号源尚未开放预约，将于%(release_at)s放号。")


class BookingClosed(BookingError):
    code = "booking_closed"
    message = _("该时段已停止预约。")


class OutsideWindow(BookingError):
    code = "outside_window"
    message = _("只能预约%(days)d天内的号源。")


class SlotFull(BookingError):
    code = "slot_full"
    message = _("该时段号源已约满。")
    schedule_id: int | None = None  # the slot's session, for the attempt counters (never in the body)
    counted: bool = False  # the attempt counters have it already (refused on the sold-out mark)


class DuplicateBooking(BookingError):
    code = "duplicate_booking"
    message = _("该就诊人当天已预约过这位医生。")


class LimitExceeded(BookingError):
    code = "limit_exceeded"
    message = _("已达到预约上限：%(limit_label)s（%(maximum)d次）。")


class PatientBanned(BookingError):
    code = "patient_banned"
    status = 403
    message = _("因多次爽约，该就诊人在%(until)s前不能在本院预约。")


class UnknownSlot(BookingError):
    code = "not_found"
    status = 404
    message = _("号源不存在。")


class UnknownPatient(BookingError):
    """No such 就诊人, or not one of the account's: another account's patient looks like none."""

    code = "not_found"
    status = 404
    message = _("就诊人不存在。")


class NotOwner(BookingError):
    code = "not_owner"
    status = 403
    message = _("只能为本账户添加的就诊人预约或操作。")


class RealNameRequired(BookingError):
    code = "real_name_required"
    status = 400
    message = _("本院实行实名制预约，请先为就诊人填写证件号码。")


class ScheduleUnavailable(BookingError):
    code = "schedule_unavailable"
    message = _("该医生此时段未开放预约或已停诊。")


class RequestsOnly(BookingError):
    code = "requests_only"
    message = _("该号源通过抽签/优先分配发放，请在报名时间内提交申请。")


class NotStaff(BookingError):
    code = "not_staff"
    status = 403
    message = _("只有本院工作人员可以进行此操作。")


class CancelNotAllowed(BookingError):
    code = "cancel_not_allowed"
    message = _("当前状态的预约不能取消。")


class CancelDeadlinePassed(BookingError):
    code = "cancel_deadline_passed"
    message = _("已超过退号截止时间（就诊前%(minutes)d分钟）。")


class InvalidStatus(BookingError):
    code = "invalid_status"
    message = _("预约当前状态为“%(status)s”，不能进行此操作。")


class NoShowTooEarly(BookingError):
    code = "no_show_too_early"
    message = _("预计就诊时间过后%(minutes)d分钟仍未签到，才能标记爽约。")


class AlreadyPaid(BookingError):
    code = "already_paid"
    message = _("该预约已支付，不能重复收费。")


class NothingToPay(BookingError):
    code = "nothing_to_pay"
    message = _("该预约无需缴费。")


class CheckInNotAllowed(BookingError):
    code = "check_in_not_allowed"
    message = _("只能在就诊当天签到。")


class RequestWindowClosed(BookingError):
    code = "request_window_closed"
    message = _("不在报名时间内（%(opens)s 至 %(closes)s）。")


class DuplicateRequest(BookingError):
    code = "duplicate_request"
    message = _("该就诊人已报名此号源。")


class InvalidUrgency(BookingError):
    code = "invalid_urgency"
    status = 400
    message = _("病情紧急程度无效。")


class DrawNotDue(BookingError):
    code = "draw_not_due"
    message = _("报名尚未截止或已经抽签。")


class WaitlistUnavailable(BookingError):
    code = "waitlist_unavailable"
    message = _("该号源当前不能候补：%(reason)s")


class DuplicateWaitlist(BookingError):
    code = "duplicate_waitlist"
    message = _("该就诊人已在此号源的候补队列中。")


class InvalidPlaces(BookingError):
    code = "invalid_places"
    status = 400
    message = _("加号数量须为1至50之间的整数。")


class IdempotencyKeyReused(BookingError):
    code = "idempotency_key_reused"
    status = 422
    message = _("该幂等键已用于另一笔预约请求（就诊人、号源或渠道不同），请换用新的幂等键。")


class PatientInactive(BookingError):
    code = "patient_inactive"
    message = _("该就诊人已停用，不能预约。")


class RescheduleNotAllowed(BookingError):
    code = "reschedule_not_allowed"
    message = _("该预约不能改约：%(reason)s")


class RescheduleLimitReached(BookingError):
    code = "reschedule_limit_reached"
    message = _("该预约已改约%(count)d次，本院规定每笔预约最多改约%(maximum)d次。")
