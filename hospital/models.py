import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.money import fen_to_yuan
from hospital.channels import Channel


class Hospital(models.Model):
    class Level(models.TextChoices):
        GRADE_3A = "3A", _("三级甲等")
        GRADE_3B = "3B", _("三级乙等")
        GRADE_3 = "3", _("三级")
        GRADE_2A = "2A", _("二级甲等")
        GRADE_2B = "2B", _("二级乙等")
        GRADE_2 = "2", _("二级")
        GRADE_1 = "1", _("一级")
        UNRATED = "", _("未定级")

    name = models.CharField(_("名称"), max_length=100, unique=True)
    code = models.SlugField(_("代码"), max_length=50, unique=True)
    level = models.CharField(_("等级"), max_length=2, choices=Level.choices, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    phone = models.CharField(_("联系电话"), max_length=30, blank=True)
    description = models.TextField(_("简介"), blank=True)
    is_active = models.BooleanField(_("开放预约"), default=True)

    class Meta:
        verbose_name = _("医院")
        verbose_name_plural = _("医院")
        ordering = ["id"]

    def __str__(self):
        return self.name


class DepartmentKind(models.TextChoices):
    """Standard department types (科室类别): 导诊 keywords point to these, whatever a hospital names its departments."""

    INTERNAL = "internal", _("内科")
    CARDIOLOGY = "cardiology", _("心血管内科")
    RESPIRATORY = "respiratory", _("呼吸内科")
    GASTROENTEROLOGY = "gastroenterology", _("消化内科")
    NEUROLOGY = "neurology", _("神经内科")
    ENDOCRINOLOGY = "endocrinology", _("内分泌科")
    SURGERY = "surgery", _("外科")
    ORTHOPEDICS = "orthopedics", _("骨科")
    UROLOGY = "urology", _("泌尿外科")
    PEDIATRICS = "pediatrics", _("儿科")
    OBSTETRICS_GYNECOLOGY = "obgyn", _("妇产科")
    GYNECOLOGY = "gynecology", _("妇科")
    OBSTETRICS = "obstetrics", _("产科")
    OPHTHALMOLOGY = "ophthalmology", _("眼科")
    ENT = "ent", _("耳鼻喉科")
    STOMATOLOGY = "stomatology", _("口腔科")
    DERMATOLOGY = "dermatology", _("皮肤科")
    EMERGENCY = "emergency", _("急诊科")
    FEVER_CLINIC = "fever", _("发热门诊")
    TCM = "tcm", _("中医科")


class Department(models.Model):
    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="departments")
    parent = models.ForeignKey(
        "self", verbose_name=_("上级科室"), on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    name = models.CharField(_("名称"), max_length=50)
    location = models.CharField(
        _("就诊位置"),
        max_length=40,
        blank=True,
        help_text=_("患者到院后去哪里候诊，如“门诊楼2层B区”；写进预约短信。不填时短信写医院地址。"),
    )
    kind = models.CharField(
        _("科室类别"),
        max_length=20,
        choices=DepartmentKind.choices,
        blank=True,
        help_text=_("标准科室类别，导诊按它把症状对应到本院科室；不填则导诊不推荐本科室。"),
    )
    description = models.TextField(_("简介"), blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("开放"), default=True)

    class Meta:
        verbose_name = _("科室")
        verbose_name_plural = _("科室")
        ordering = ["hospital_id", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["hospital", "parent", "name"], name="hospital_department_unique_name"),
        ]

    def __str__(self):
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name

    def clean(self):
        super().clean()
        if self.parent_id:
            if self.parent.hospital_id != self.hospital_id:
                raise ValidationError({"parent": _("上级科室必须属于同一家医院。")})
            ancestor = self.parent
            while ancestor is not None:
                if ancestor.pk == self.pk:
                    raise ValidationError({"parent": _("上级科室不能是本科室或其下级科室。")})
                ancestor = ancestor.parent

    def ancestors(self) -> list["Department"]:
        chain, node = [], self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def visit_location(self) -> str:
        """Where its patients go: its own place, else the nearest parent department's."""
        return next((node.location for node in [self, *self.ancestors()] if node.location), "")


class Doctor(models.Model):
    class Title(models.TextChoices):
        CHIEF = "chief", _("主任医师")
        ASSOCIATE_CHIEF = "associate_chief", _("副主任医师")
        ATTENDING = "attending", _("主治医师")
        RESIDENT = "resident", _("住院医师")

    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="doctors")
    departments = models.ManyToManyField(Department, verbose_name=_("科室"), related_name="doctors")
    name = models.CharField(_("姓名"), max_length=50)
    title = models.CharField(_("职称"), max_length=20, choices=Title.choices)
    specialty = models.CharField(_("擅长"), max_length=200, blank=True)
    intro = models.TextField(_("简介"), blank=True)
    registration_fee_fen = models.PositiveIntegerField(_("挂号费（分）"), default=0)
    is_active = models.BooleanField(_("出诊"), default=True)

    class Meta:
        verbose_name = _("医生")
        verbose_name_plural = _("医生")
        ordering = ["hospital_id", "id"]

    def __str__(self):
        return f"{self.name}（{self.get_title_display()}）"

    @property
    def registration_fee_yuan(self) -> str:
        return fen_to_yuan(self.registration_fee_fen)


class BookingRules(models.Model):
    """The hospital's booking policy. A department or doctor row overrides the hospital's row.

    Every save bumps `version`; each appointment keeps the version and a snapshot of the
    rules it was booked under, so later changes never rewrite past decisions.

    `ban_applies_to_staff_channels` (default off): a no-show ban (限制预约) stops a person booking
    ahead online or through a partner, where a place they do not use is lost to someone else. The
    window books for a patient standing in the hospital and the clinic channel is the doctor's
    own follow-up or referral, so by default a ban does not refuse care there; a hospital that
    wants its bans to hold everywhere turns this on.
    """

    hospital = models.ForeignKey(
        Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="booking_rules"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("适用科室"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    doctor = models.ForeignKey(
        Doctor, verbose_name=_("适用医生"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)

    # Release and booking window
    days_ahead = models.PositiveSmallIntegerField(_("可提前预约天数"), default=7)
    release_time = models.TimeField(_("每日放号时间"), default=datetime.time(15, 0))
    same_day_booking = models.BooleanField(_("允许预约当天号"), default=True)
    close_minutes_before_start = models.PositiveIntegerField(_("时段开始前多少分钟停止预约"), default=30)
    day_before_cutoff_time = models.TimeField(
        _("前一日截止预约时间"), null=True, blank=True, help_text=_("填写后，某日的号在前一日此时间后停止预约。")
    )
    lottery_window_hours = models.PositiveSmallIntegerField(_("抽签/优先分配报名时长（小时）"), default=24)

    # Cancellation and payment
    cancel_deadline_minutes = models.PositiveIntegerField(_("就诊前多少分钟截止退号"), default=120)
    late_cancel_hours = models.PositiveIntegerField(_("就诊前多少小时内退号计为爽约记录"), default=24)
    payment_timeout_minutes = models.PositiveIntegerField(_("支付时限（分钟）"), default=10)
    max_reschedules = models.PositiveSmallIntegerField(
        _("每笔预约可改约次数"), default=1, help_text=_("0 表示不允许改约。改约不计为退号。")
    )
    pay_at_desk = models.BooleanField(_("到院窗口缴费"), default=False)
    real_name_required = models.BooleanField(_("实名制预约"), default=True)

    # Per-patient limits
    max_per_department_per_day = models.PositiveSmallIntegerField(_("每人每天同一科室限约"), default=2)
    max_per_hospital_per_day = models.PositiveSmallIntegerField(_("每人每天本院限约"), default=3)
    max_active = models.PositiveSmallIntegerField(_("每人未就诊预约上限"), default=5)
    max_per_month = models.PositiveSmallIntegerField(_("每人每月限约"), default=10)

    # No-show policy
    no_show_threshold = models.PositiveSmallIntegerField(_("爽约几次限制预约"), default=3)
    no_show_window_days = models.PositiveIntegerField(_("爽约统计周期（天）"), default=365)
    ban_days = models.PositiveIntegerField(_("限制预约天数"), default=90)
    late_cancel_counts = models.BooleanField(_("临近就诊退号计入爽约"), default=True)
    ban_applies_to_staff_channels = models.BooleanField(
        _("限制预约也适用于窗口和诊间"),
        default=False,
        help_text=_(
            "默认不适用：限制预约针对的是网上和合作平台的提前预约，以免号源被爽约浪费；"
            "窗口挂号时患者本人就在医院，诊间预约是医生安排的复诊或转诊，不应因此拒绝就医。"
        ),
    )

    # Waitlist
    waitlist_enabled = models.BooleanField(_("开放候补"), default=True)
    waitlist_payment_minutes = models.PositiveIntegerField(_("候补成功后支付时限（分钟）"), default=30)
    waitlist_close_time = models.TimeField(
        _("候补截止时间（就诊前一日）"),
        default=datetime.time(23, 0),
        help_text=_("就诊前一日此时间后候补结束，仍在候补的患者会收到未候补成功的短信。"),
    )

    # Reminders
    reminder_time = models.TimeField(
        _("就诊提醒短信发送时间（就诊前一日）"),
        default=datetime.time(18, 0),
        help_text=_("另在就诊时段开始前2小时再提醒一次。"),
    )

    # Channel shares (percent) and release of unused reserves
    online_share = models.PositiveSmallIntegerField(_("线上号源占比（%）"), default=70)
    partner_share = models.PositiveSmallIntegerField(_("合作平台号源占比（%）"), default=10)
    window_share = models.PositiveSmallIntegerField(_("窗口号源占比（%）"), default=15)
    clinic_share = models.PositiveSmallIntegerField(_("诊间号源占比（%）"), default=5)
    reserve_release_days_before = models.PositiveSmallIntegerField(_("窗口/诊间余号提前几天转线上"), default=1)
    reserve_release_time = models.TimeField(_("窗口/诊间余号转线上时间"), default=datetime.time(20, 0))
    partner_cutoff_days_before = models.PositiveSmallIntegerField(_("合作平台截止提前天数"), default=1)
    partner_cutoff_time = models.TimeField(_("合作平台截止时间（余号转线上）"), default=datetime.time(18, 0))

    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    SNAPSHOT_EXCLUDE = {"id", "hospital", "department", "doctor", "updated_at"}

    class Meta:
        verbose_name = _("预约规则")
        verbose_name_plural = _("预约规则")
        constraints = [
            models.UniqueConstraint(
                fields=["hospital"],
                condition=Q(department__isnull=True, doctor__isnull=True),
                name="hospital_bookingrules_one_per_hospital",
            ),
            models.UniqueConstraint(
                fields=["department"],
                condition=Q(department__isnull=False, doctor__isnull=True),
                name="hospital_bookingrules_one_per_department",
            ),
            models.UniqueConstraint(
                fields=["doctor"], condition=Q(doctor__isnull=False), name="hospital_bookingrules_one_per_doctor"
            ),
            models.CheckConstraint(
                condition=Q(online_share__lte=100)
                & Q(partner_share__lte=100)
                & Q(window_share__lte=100)
                & Q(clinic_share__lte=100),
                name="hospital_bookingrules_share_bounds",
            ),
            models.CheckConstraint(
                condition=Q(
                    online_share=100 - models.F("partner_share") - models.F("window_share") - models.F("clinic_share")
                ),
                name="hospital_bookingrules_shares_add_to_100",
                violation_error_message=_("各渠道号源占比之和必须为100%。"),
            ),
        ]

    def __str__(self):
        scope = self.doctor or self.department or self.hospital
        return _("%(scope)s 的预约规则") % {"scope": scope}

    def release_crontab(self) -> dict[str, str]:
        """The daily release (放号) as crontab fields, in the hospital's local time."""
        return {"hour": str(self.release_time.hour), "minute": str(self.release_time.minute)}

    def clean(self):
        super().clean()
        total = self.online_share + self.partner_share + self.window_share + self.clinic_share
        if total != 100:
            raise ValidationError(_("各渠道号源占比之和必须为100%%，当前为%(total)d%%。") % {"total": total})
        if self.department_id and self.department.hospital_id != self.hospital_id:
            raise ValidationError({"department": _("科室必须属于同一家医院。")})
        if self.doctor_id and self.doctor.hospital_id != self.hospital_id:
            raise ValidationError({"doctor": _("医生必须属于同一家医院。")})

    def save(self, *args, **kwargs):
        if self.pk:
            self.version += 1
        super().save(*args, **kwargs)

    @property
    def shares(self) -> dict[str, int]:
        return {
            Channel.ONLINE: self.online_share,
            Channel.PARTNER: self.partner_share,
            Channel.WINDOW: self.window_share,
            Channel.CLINIC: self.clinic_share,
        }

    def snapshot(self) -> dict:
        """The rules as plain JSON values, stored on every appointment booked under them."""
        data = {}
        for field in self._meta.concrete_fields:
            if field.name in self.SNAPSHOT_EXCLUDE:
                continue
            value = getattr(self, field.attname)
            data[field.name] = value.isoformat() if isinstance(value, datetime.time) else value
        data["scope_id"] = self.pk
        return data


class HospitalStaff(models.Model):
    class Role(models.TextChoices):
        HOSPITAL_ADMIN = "hospital_admin", _("医院管理员")
        SCHEDULER = "scheduler", _("号源管理员")
        FRONT_DESK = "front_desk", _("挂号窗口")
        DOCTOR = "doctor", _("医生")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="hospital_staff"
    )
    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    doctor = models.ForeignKey(
        Doctor,
        verbose_name=_("对应医生"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_accounts",
        help_text=_("角色为“医生”时必填：该账号只能看到这位医生自己的出诊和患者。"),
    )
    departments = models.ManyToManyField(
        Department,
        verbose_name=_("负责科室"),
        blank=True,
        related_name="+",
        help_text=_("号源管理员只管理所选科室的排班、停诊和加号；不选表示管理全院。"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("医院工作人员")
        verbose_name_plural = _("医院工作人员")
        constraints = [
            models.CheckConstraint(
                condition=Q(role="doctor", doctor__isnull=False) | (~Q(role="doctor") & Q(doctor__isnull=True)),
                name="hospital_hospitalstaff_doctor_role_has_doctor",
                violation_error_message=_("角色为“医生”时必须选择对应医生，其他角色不能选择医生。"),
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.hospital} · {self.get_role_display()}"

    def clean(self):
        super().clean()
        if self.doctor_id and self.hospital_id and self.doctor.hospital_id != self.hospital_id:
            raise ValidationError({"doctor": _("医生必须属于同一家医院。")})


class TriageKeyword(models.Model):
    """导诊: a symptom or keyword a patient may type, and the department type it points to.

    Platform-wide and curated by superusers (it belongs to no hospital, so hospital staff cannot
    change it). Only "which department", never medical advice. `min_age`/`max_age` (whole
    years) make a row apply to some ages only, e.g. 发烧 → 儿科 under 14 and → 内科 from 14; when
    the patient's age is not given every row applies.
    """

    keyword = models.CharField(_("关键词"), max_length=20)
    department_kind = models.CharField(_("科室类别"), max_length=20, choices=DepartmentKind.choices)
    weight = models.PositiveSmallIntegerField(_("权重"), default=1, help_text=_("越大越靠前（1–10）。"))
    min_age = models.PositiveSmallIntegerField(_("最小年龄（岁）"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("最大年龄（岁）"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("导诊关键词")
        verbose_name_plural = _("导诊关键词")
        ordering = ["keyword", "-weight", "id"]
        constraints = [
            models.UniqueConstraint(fields=["keyword", "department_kind"], name="hospital_triagekeyword_unique"),
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=10), name="hospital_triagekeyword_weight_range"
            ),
            models.CheckConstraint(
                condition=Q(min_age__isnull=True) | Q(max_age__isnull=True) | Q(min_age__lte=models.F("max_age")),
                name="hospital_triagekeyword_age_range",
                violation_error_message=_("最小年龄不能大于最大年龄。"),
            ),
        ]

    def __str__(self):
        return f"{self.keyword} → {self.get_department_kind_display()}"


class AuditRecord(models.Model):
    """Who changed what, when and why: one row per staff change, written in the change's own transaction.

    Counters move through conditional UPDATEs, so a save-signal history would miss them; every
    service that changes rules, schedules, slots, appointments (staff actions), penalties, staff
    roles or partner grants calls `hospital.audit.record` itself. Never edited or deleted.
    """

    class Action(models.TextChoices):
        RULES_CHANGED = "rules_changed", _("修改预约规则")
        SCHEDULE_CHANGED = "schedule_changed", _("修改出诊")
        SCHEDULE_PUBLISHED = "schedule_published", _("发布出诊")
        SCHEDULES_GENERATED = "schedules_generated", _("生成出诊")
        SUSPENSION_REQUESTED = "suspension_requested", _("申请停诊")
        SUSPENSION_REJECTED = "suspension_rejected", _("驳回停诊申请")
        SCHEDULE_SUSPENDED = "schedule_suspended", _("停诊")
        PLACES_ADDED = "places_added", _("加号")
        WINDOW_BOOKED = "window_booked", _("窗口挂号")
        CLINIC_BOOKED = "clinic_booked", _("诊间预约")
        DESK_PAYMENT = "desk_payment", _("窗口收费")
        CHECKED_IN = "checked_in", _("签到")
        COMPLETED = "completed", _("完成就诊")
        NO_SHOW = "no_show", _("标记爽约")
        CANCELLED_BY_STAFF = "cancelled_by_staff", _("医院取消预约")
        PENALTY_WAIVED = "penalty_waived", _("撤销失信记录")
        STAFF_ROLE_CHANGED = "staff_role_changed", _("调整工作人员角色")
        GRANT_CHANGED = "grant_changed", _("合作平台授权")
        EXPORTED = "exported", _("导出预约")

    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(_("操作人姓名"), max_length=100, help_text=_("“系统”表示定时任务。"))
    action = models.CharField(_("操作"), max_length=30, choices=Action.choices)
    target_type = models.CharField(_("对象类型"), max_length=60)
    target_id = models.CharField(_("对象编号"), max_length=40, blank=True)
    target_repr = models.CharField(_("对象"), max_length=200, blank=True)
    changes = models.JSONField(_("变更内容"), default=dict, blank=True)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("操作记录")
        verbose_name_plural = _("操作记录")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["hospital", "created_at"], name="hospital_audit_hospital_time")]

    def __str__(self):
        return f"{self.get_action_display()} · {self.target_repr}"
