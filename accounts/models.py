import datetime

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import pii
from accounts.id_numbers import parse_resident_id, validate_other_document
from accounts.phones import normalize_mobile
from accounts.pii import phone_hash


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        """Log in by phone: the encrypted column cannot be filtered, its keyed hash can."""
        try:
            return self.get(phone_hash=phone_hash(username))
        except ValidationError:
            raise self.model.DoesNotExist from None

    def get_by_phone(self, phone):
        return self.get_by_natural_key(phone)

    def create_user(self, phone, password=None, **extra_fields):
        user = self.model(phone=phone, **extra_fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, phone, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True)
        return self.create_user(phone, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An account, identified by a mainland mobile number (stored encrypted)."""

    phone = pii.EncryptedCharField(_("手机号"))
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, unique=True, editable=False)
    phone_verified = models.BooleanField(_("手机号已验证"), default=False)
    name = models.CharField(_("姓名"), max_length=50, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    is_staff = models.BooleanField(_("可登录管理后台"), default=False)
    is_active = models.BooleanField(_("有效"), default=True)
    date_joined = models.DateTimeField(_("注册时间"), default=timezone.now)
    elderly_mode = models.BooleanField(
        _("长辈模式"), default=False, help_text=_("大字、高对比、每屏更少选项的网页显示方式。")
    )

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self):
        return self.name or self.masked_phone

    def clean(self):
        super().clean()
        self.phone = normalize_mobile(self.phone)

    def save(self, *args, **kwargs):
        self.phone = normalize_mobile(self.phone)
        self.phone_hash = phone_hash(self.phone)
        super().save(*args, **kwargs)

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)


class Patient(models.Model):
    """就诊人: a person an account books for (the holder, a child, a parent…)."""

    class Relation(models.TextChoices):
        SELF = "self", _("本人")
        CHILD = "child", _("子女")
        PARENT = "parent", _("父母")
        OTHER = "other", _("其他")

    class Gender(models.TextChoices):
        MALE = "M", _("男")
        FEMALE = "F", _("女")

    class IdType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("居民身份证")
        PASSPORT = "passport", _("护照")
        HMT_PERMIT = "hmt_permit", _("港澳台通行证")

    user = models.ForeignKey(
        User,
        verbose_name=_("所属账户"),
        on_delete=models.PROTECT,
        related_name="patients",
        null=True,
        blank=True,
        help_text=_("窗口现场登记的就诊人可以没有账户。"),
    )
    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("出生日期"))
    relation = models.CharField(_("与账户关系"), max_length=10, choices=Relation.choices, default=Relation.SELF)
    id_type = models.CharField(_("证件类型"), max_length=20, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number = pii.EncryptedCharField(_("证件号码"), blank=True)
    id_number_hash = models.CharField(_("证件号码摘要"), max_length=64, blank=True, db_index=True, editable=False)
    phone = pii.EncryptedCharField(_("手机号"), blank=True)
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, blank=True, db_index=True, editable=False)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("添加时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("就诊人")
        verbose_name_plural = _("就诊人")
        ordering = ["user_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "id_number_hash"],
                condition=Q(is_active=True) & ~Q(id_number_hash=""),
                name="accounts_patient_one_person_per_account",
                violation_error_message=_("该证件号码的就诊人已在此账户中。"),
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        """Validate the document number and, for a resident ID, that birth date and gender agree."""
        super().clean()
        errors = {}
        if self.id_number:
            try:
                if self.id_type == self.IdType.RESIDENT_ID:
                    parsed = parse_resident_id(self.id_number)
                    self.id_number = parsed.number
                    if self.birth_date and self.birth_date != parsed.birth_date:
                        errors["birth_date"] = _("出生日期与身份证号码不一致（号码中为%(date)s）。") % {
                            "date": parsed.birth_date.isoformat()
                        }
                    if self.gender and self.gender != parsed.gender:
                        errors["gender"] = _("性别与身份证号码第17位不一致。")
                else:
                    self.id_number = validate_other_document(self.id_number)
            except ValidationError as exc:
                errors["id_number"] = exc.messages
        if self.phone:
            try:
                self.phone = normalize_mobile(self.phone)
            except ValidationError as exc:
                errors["phone"] = exc.messages
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.id_number = (self.id_number or "").strip().upper()
        self.id_number_hash = self.document_hash(self.id_type, self.id_number) if self.id_number else ""
        self.phone_hash = phone_hash(self.phone) if self.phone else ""
        super().save(*args, **kwargs)

    @staticmethod
    def document_hash(id_type: str, number: str) -> str:
        return pii.lookup_hash(f"id:{id_type}", number.strip().upper())

    @property
    def has_real_name(self) -> bool:
        """Real-name booking needs a recorded identity document."""
        return bool(self.id_number_hash)

    @property
    def person_key(self) -> str:
        """Who this is in the real world: the same document under two accounts is one person."""
        return self.id_number_hash or f"patient:{self.pk}"

    @property
    def masked_id_number(self) -> str:
        return pii.mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)

    def age_on(self, day: datetime.date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Partner(models.Model):
    """A third-party booking platform (挂号平台). Its service account owns the patients it registers."""

    name = models.CharField(_("名称"), max_length=100)
    code = models.SlugField(_("代码"), max_length=50, unique=True)
    user = models.OneToOneField(User, verbose_name=_("服务账户"), on_delete=models.PROTECT, related_name="partner")
    api_key_hash = models.CharField(_("API 密钥摘要"), max_length=64, blank=True, editable=False)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("合作平台")
        verbose_name_plural = _("合作平台")

    def __str__(self):
        return self.name
