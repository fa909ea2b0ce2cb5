"""The patient's view of the analytics: a doctor's historical booking-success chance."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from config.api import PublicReadMixin, get_or_404
from hospital.selectors import doctors_for_patients
from scheduling.models import AllocationPolicy, Period


class ShareOut(serializers.Serializer):
    chance = serializers.FloatField(allow_null=True, help_text="成功率（0–1）；无数据时为 null")
    won = serializers.IntegerField()


class EntryShareOut(ShareOut):
    entries = serializers.IntegerField(help_text="参与抽签/分配的申请数")
    sessions = serializers.IntegerField(help_text="统计的出诊场次")


class AttemptShareOut(ShareOut):
    attempts = serializers.IntegerField(help_text="放号第一分钟内的线上预约尝试次数")
    sessions = serializers.IntegerField(help_text="统计的出诊场次")


class BandShareOut(ShareOut):
    band = serializers.CharField(help_text="优先级得分区间")
    entries = serializers.IntegerField()


class PriorityShareOut(EntryShareOut):
    bands = BandShareOut(many=True)


class ByPolicyOut(serializers.Serializer):
    fcfs = AttemptShareOut(help_text="先到先得：放号第一分钟的抢号成功率")
    lottery = EntryShareOut(help_text="抽签：历史中签率")
    priority = PriorityShareOut(help_text="优先级分配：按得分区间的成功率")


class OpenLotteryOut(serializers.Serializer):
    schedule_id = serializers.IntegerField()
    date = serializers.DateField()
    period = serializers.ChoiceField(choices=Period.choices)
    entries = serializers.IntegerField(help_text="已有线上申请数")
    places = serializers.IntegerField(help_text="线上号源数")
    chance = serializers.FloatField(help_text="现在报名的中签概率（超几何分布，精确值）")


class DoctorChanceOut(serializers.Serializer):
    doctor_id = serializers.IntegerField()
    since = serializers.DateField(help_text="统计起始日期")
    policy = serializers.ChoiceField(
        choices=AllocationPolicy.choices, allow_null=True, help_text="该医生当前的分配方式"
    )
    chance = serializers.FloatField(allow_null=True, help_text="当前分配方式下的历史成功率（0–1）")
    sessions = serializers.IntegerField(help_text="该成功率所依据的出诊场次数")
    by_policy = ByPolicyOut()
    open_lotteries = OpenLotteryOut(many=True, help_text="正在报名的抽签出诊")


@extend_schema(tags=["browsing"], summary="医生的历史中签率 / 抢号成功率")
class DoctorChanceApi(PublicReadMixin, APIView):
    @extend_schema(responses=DoctorChanceOut)
    def get(self, request, doctor_id: int):
        doctor = get_or_404(doctors_for_patients(), pk=doctor_id)
        return Response(DoctorChanceOut(selectors.historical_chance(doctor_id=doctor.pk)).data)
