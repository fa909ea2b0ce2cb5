"""Errors a user can cause while managing their 就诊人; each has a stable `code`."""

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class PatientHasAppointments(DomainError):
    code = "patient_has_appointments"
    status = 409
    message = _("该就诊人还有未完成的预约、候补或抽签申请，请先取消后再删除。")


class IdentityLocked(DomainError):
    code = "identity_locked"
    status = 409
    message = _("已实名登记的就诊人不能修改姓名、性别、出生日期或证件信息；如有错误，请删除后重新添加。")


class DuplicatePatient(DomainError):
    code = "duplicate_patient"
    status = 409
    message = _("该证件号码的就诊人已在此账户中。")
