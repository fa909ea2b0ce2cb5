"""Account pages around allauth's, phone first: the account home, password reset by SMS code, the
profile (`/me/`), 就诊人 pages on accounts.services (the same rules as the API) and the 长辈模式 switch.

allauth 65 resets a password by e-mail only (its reset-by-code flow e-mails the code), and these
accounts have no e-mail: the reset here asks for the phone number, texts a six-digit 验证码 the
way login does, and sets the new password once the code matches. Asking does the same work for
a known and an unknown number (the adapter texts either the code or a no-account note), and the
answer is the same page.
"""

import secrets
import time

from allauth.account import app_settings
from allauth.account.adapter import get_adapter
from allauth.account.fields import PasswordField, SetPasswordField
from allauth.core import ratelimit
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts import elderly, errors, services
from accounts.forms import PatientContactForm, PatientForm
from accounts.phones import normalize_mobile
from accounts.pii import mask_phone
from accounts.selectors import patients_of

RESET_STATE = "accounts_password_reset_by_phone"


def account_home(request):
    """`/accounts/`: the profile for a signed-in user, the (phone) login page for anyone else."""
    return redirect("profile" if request.user.is_authenticated else "account_login")


def phone_first(request, *args, **kwargs):
    """allauth's e-mail pages (addresses, confirmation, reset links): accounts here have a phone."""
    return redirect("account_home")


class ResetRequestForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"] = get_adapter().phone_form_field(required=True)


class ResetConfirmForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("验证码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    password1 = SetPasswordField(label=gettext_lazy("新密码"))
    password2 = PasswordField(label=gettext_lazy("再次输入新密码"), autocomplete="new-password")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].user = user

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password2") and cleaned["password1"] != cleaned["password2"]:
            self.add_error("password2", _("两次输入的密码不一致。"))
        return cleaned


@require_http_methods(["GET", "POST"])
def password_reset(request):
    form = ResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        if not ratelimit.consume(request, action="reset_password", key=phone):
            form.add_error(None, _("操作过于频繁，请稍后再试。"))
        else:
            adapter = get_adapter(request)
            user = adapter.get_user_by_phone(phone)
            code = ""
            if user is not None and user.is_active:
                code = adapter.generate_phone_verification_code(user=user, phone=phone)
                adapter.send_verification_code_sms(user=user, phone=phone, code=code)
            else:
                adapter.send_unknown_account_sms(phone)
            request.session[RESET_STATE] = {
                "user_pk": user.pk if code else None,
                "code": code,
                "phone": phone,
                "at": time.time(),
                "attempts": 0,
            }
            masked = mask_phone(normalize_mobile(phone))
            messages.success(request, _("短信验证码已发送至 %(phone)s。") % {"phone": masked})
            return redirect("account_reset_password_by_phone_confirm")
    return render(request, "account/password_reset_by_phone.html", {"form": form})


def _pending_reset(request) -> dict | None:
    state = request.session.get(RESET_STATE)
    if not state or time.time() - state["at"] > app_settings.PASSWORD_RESET_BY_CODE_TIMEOUT:
        request.session.pop(RESET_STATE, None)
        return None
    return state


@require_http_methods(["GET", "POST"])
def password_reset_confirm(request):
    state = _pending_reset(request)
    if state is None:
        messages.error(request, _("验证码已失效，请重新获取。"))
        return redirect("account_reset_password")
    user = get_user_model().objects.filter(pk=state["user_pk"], is_active=True).first() if state["user_pk"] else None
    form = ResetConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        typed = form.cleaned_data["code"].strip()
        if user is not None and state["code"] and secrets.compare_digest(typed.encode(), state["code"].encode()):
            request.session.pop(RESET_STATE, None)
            get_adapter(request).set_password(user, form.cleaned_data["password1"])
            messages.success(request, _("密码已重置，请用新密码登录。"))
            return redirect("account_login")
        state["attempts"] += 1
        if state["attempts"] >= app_settings.PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS:
            request.session.pop(RESET_STATE, None)
            messages.error(request, _("验证码错误次数过多，请重新获取。"))
            return redirect("account_reset_password")
        request.session[RESET_STATE] = state
        form.add_error("code", _("验证码错误。"))
    masked = mask_phone(normalize_mobile(state["phone"]))
    return render(request, "account/password_reset_by_phone_confirm.html", {"form": form, "phone": masked})


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@require_POST
def toggle_elderly_mode(request):
    """`/elderly/`: the 长辈模式 switch on every page; back to the page it was pressed on."""
    on = request.POST.get("on") == "1" if "on" in request.POST else not elderly.is_on(request)
    if request.user.is_authenticated:
        services.set_elderly_mode(user=request.user, on=on)
    response = redirect(_safe_next(request, "/"))
    elderly.remember_in_browser(response, on=on)
    return response


@login_required
def profile(request):
    patients = list(patients_of(user=request.user))
    return render(request, "accounts/profile.html", {"patients": patients})


@login_required
def patient_list(request):
    return render(request, "accounts/patient_list.html", {"patients": list(patients_of(user=request.user))})


@login_required
@require_http_methods(["GET", "POST"])
def patient_create(request):
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.create_patient(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_model_errors(exc)
        except errors.DuplicatePatient as exc:
            form.add_error("id_number", exc.detail)
        else:
            messages.success(request, _("已添加就诊人 %(name)s。") % {"name": patient.name})
            return redirect(_safe_next(request, "patient_list"))
    return render(
        request, "accounts/patient_form.html", {"form": form, "next": _safe_next(request, ""), "creating": True}
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request, patient_id: int):
    patient = get_object_or_404(patients_of(user=request.user), pk=patient_id)
    form_class = PatientContactForm if patient.has_real_name else PatientForm
    initial = {name: getattr(patient, name) for name in services.EDITABLE_FIELDS if name != "id_number"}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_patient(patient=patient, **form.cleaned_data)
        except ValidationError as exc:
            form.add_model_errors(exc)
        except (errors.DuplicatePatient, errors.IdentityLocked) as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, _("已保存就诊人 %(name)s。") % {"name": patient.name})
            return redirect("patient_list")
    return render(request, "accounts/patient_form.html", {"form": form, "patient": patient, "creating": False})


@login_required
@require_http_methods(["GET", "POST"])
def patient_delete(request, patient_id: int):
    patient = get_object_or_404(patients_of(user=request.user), pk=patient_id)
    if request.method == "POST":
        try:
            services.deactivate_patient(patient=patient)
        except errors.PatientHasAppointments as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("已删除就诊人 %(name)s。") % {"name": patient.name})
        return redirect("patient_list")
    return render(request, "accounts/patient_confirm_delete.html", {"patient": patient})
