"""Forms of the account pages. They check shape only; accounts.services checks the rules (real name)."""

from allauth.account.forms import LoginForm
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Patient


class PhonePasswordLoginForm(LoginForm):
    """Phone and password. allauth drops the password field when sign-up asks for none (ours asks
    only for the phone and its SMS code), which left a phone-only "登录" that silently texted a
    code; the SMS-code login keeps its own page (account_request_login_code)."""

    def _setup_password_field(self) -> None:
        self.fields["password"].label = _("密码")
        self.fields["password"].widget.attrs["placeholder"] = _("密码")


class PatientForm(forms.Form):
    """A new 就诊人 (or one not yet real-named): the identity and the contact fields."""

    name = forms.CharField(label=_("姓名"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    relation = forms.ChoiceField(label=_("与我的关系"), choices=Patient.Relation.choices, initial=Patient.Relation.SELF)
    id_type = forms.ChoiceField(label=_("证件类型"), choices=Patient.IdType.choices, initial=Patient.IdType.RESIDENT_ID)
    id_number = forms.CharField(
        label=_("证件号码"),
        max_length=30,
        required=False,
        help_text=_("实名制预约需要登记证件；身份证号码会核对校验位、出生日期和性别。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    gender = forms.ChoiceField(label=_("性别"), choices=Patient.Gender.choices, widget=forms.RadioSelect)
    birth_date = forms.DateField(label=_("出生日期"), widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(
        label=_("手机号（选填）"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "numeric", "autocomplete": "tel"}),
    )

    def add_model_errors(self, exc: ValidationError) -> None:
        """The model's real-name checks (accounts.models.Patient.clean) on the fields they name."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


class PatientContactForm(PatientForm):
    """A real-named 就诊人: bans and limits follow the recorded identity, so only contact fields change."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("name", "id_type", "id_number", "gender", "birth_date"):
            del self.fields[name]
