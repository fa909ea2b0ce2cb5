from axes.admin import AccessAttemptAdmin as BaseAccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.lockout import lockout_key
from accounts.models import Partner, Patient, User, phone_hash
from accounts.phones import normalize_mobile


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(
        label=_("密码"),
        widget=forms.PasswordInput,
        required=False,
        strip=False,
        help_text=_("留空则不设密码（只能用短信验证码登录）。"),
    )

    class Meta:
        model = User
        fields = ["phone", "name", "email"]
        widgets = {"phone": forms.TextInput}

    def clean_phone(self):
        phone = normalize_mobile(self.cleaned_data["phone"])
        if User.objects.filter(phone_hash=phone_hash(phone)).exists():
            raise forms.ValidationError(_("该手机号已注册。"))
        return phone

    def _post_clean(self):
        super()._post_clean()
        # The validators compare the password with the account's own fields, so run them on the built instance.
        password = self.cleaned_data.get("password")
        if password:
            try:
                password_validation.validate_password(password, self.instance)
            except forms.ValidationError as error:
                self.add_error("password", error)

    def save(self, commit=True):
        user = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        else:
            user.set_unusable_password()
        if commit:
            user.save()
        return user


class UserChangeForm(auth_forms.UserChangeForm):
    """The password is shown as its read-only hash summary with a link to the change-password page."""

    class Meta:
        model = User
        fields = [
            "phone", "password", "name", "email", "phone_verified", "is_active", "is_staff", "is_superuser",
            "groups", "user_permissions", "last_login", "date_joined",
        ]  # fmt: skip
        widgets = {"phone": forms.TextInput}
        field_classes = {}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ["__str__", "masked_phone", "name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["name", "email"]
    ordering = ["-date_joined"]
    fieldsets = [
        (None, {"fields": ["phone", "password"]}),
        (_("个人信息"), {"fields": ["name", "email", "phone_verified"]}),
        (_("权限"), {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        (_("时间"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["phone", "name", "email", "password"]})]

    @admin.display(description=_("手机号"))
    def masked_phone(self, obj):
        return obj.masked_phone

    def get_search_results(self, request, queryset, search_term):
        """Exact phone search goes through the keyed hash; the encrypted column can't be searched."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            phone = normalize_mobile(search_term)
        except forms.ValidationError:
            return queryset, may_have_duplicates
        return queryset | self.model.objects.filter(phone_hash=phone_hash(phone)), may_have_duplicates


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["name", "gender", "birth_date", "relation", "id_type", "masked_id_number", "masked_phone", "user",
                    "is_active"]  # fmt: skip
    list_filter = ["id_type", "relation", "gender", "is_active"]
    search_fields = ["name"]
    raw_id_fields = ["user"]

    @admin.display(description=_("证件号码"))
    def masked_id_number(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("手机号"))
    def masked_phone(self, obj):
        return obj.masked_phone

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("id_number", "phone"):
            kwargs["widget"] = forms.TextInput
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "user", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    raw_id_fields = ["user"]


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(BaseAccessAttemptAdmin):
    """Failed password logins (django-axes). Deleting a row unlocks that phone and address.

    Phones are kept as their keyed hash: search by the phone number as typed at login.
    """

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            queryset |= self.model.objects.filter(username=lockout_key(None, {"phone": search_term}))
        return queryset, may_have_duplicates
