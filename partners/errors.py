"""Errors a partner platform can cause; each has a stable `code`."""

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class HospitalNotGranted(DomainError):
    code = "hospital_not_granted"
    status = 404
    message = _("未找到该医院，或该医院未向本平台授权。")


class GrantRefused(DomainError):
    code = "grant_refused"
    status = 403
    message = _("只有本院医院管理员或超级管理员可以授权或撤销合作平台。")


class AlreadyGranted(DomainError):
    code = "already_granted"
    status = 409
    message = _("该平台已获本院授权。")


class SlotNotGranted(DomainError):
    code = "slot_not_granted"
    status = 404
    message = _("未找到该号源，或其所在医院未向本平台授权。")
