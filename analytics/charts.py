"""Charts for the reports, drawn on the server with matplotlib's Agg backend (no browser library).

Figures are built with `matplotlib.figure.Figure` directly, never pyplot: no global state, so
two requests drawing at once cannot mix their charts. Each function returns PNG bytes.
"""

import base64
import io
import warnings

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analytics.fairness import AGE_BANDS, FairnessReport
from analytics.selectors import AdmissionEstimate, CapacityPlan

CJK_FONTS = ["Noto Sans CJK SC", "Noto Serif CJK SC", "Noto Sans Mono CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
POLICY_LABELS = {"fcfs": "先到先得", "lottery": "抽签", "priority": "优先级"}
URGENCY_LABELS = {0: "常规", 1: "较急", 2: "紧急", 3: "转诊/复查"}


def _cjk():
    return matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": CJK_FONTS})


def _figure(rows: int = 1, columns: int = 1, size=(8, 4)):
    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a machine without a CJK font draws boxes instead of failing
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def capacity_chart(plan: CapacityPlan) -> bytes:
    with _cjk():
        figure, axes = _figure(1, 2, size=(10, 4))
        hours = [f"{h.hour:02d}" for h in plan.hours]
        left, right = axes[0][0], axes[0][1]
        left.bar(hours, [h.arrival_rate for h in plan.hours], color="#4c78a8", label="到达率（人/小时）")
        if plan.service_rate_per_hour:
            left.plot(
                hours,
                [h.doctors_now * plan.service_rate_per_hour for h in plan.hours],
                color="#e45756",
                marker="o",
                label="现有接诊能力（人/小时）",
            )
        left.set_xlabel("时段（点）")
        left.set_title("到达与接诊能力")
        left.legend(fontsize=8)
        right.bar(hours, [h.doctors_now for h in plan.hours], color="#9ecae9", label="现有医生")
        right.plot(hours, [h.doctors_needed or 0 for h in plan.hours], color="#f58518", marker="s", label="所需医生")
        right.set_xlabel("时段（点）")
        right.set_title(f"平均等候 ≤ {plan.target_wait_minutes:g} 分钟所需医生数")
        right.legend(fontsize=8)
        return _png(figure)


def admission_chart(estimate: AdmissionEstimate) -> bytes:
    with _cjk():
        figure, axes = _figure(size=(6, 3.5))
        axis = axes[0][0]
        stable = [row for row in estimate.rows if row["stable"]]
        axis.plot([r["workers"] for r in stable], [r["p99_ms"] for r in stable], marker="o", label="p99 响应（模型）")
        axis.plot([r["workers"] for r in stable], [r["mean_queue_ms"] for r in stable], marker="x", label="平均排队")
        axis.axhline(estimate.target_p99_ms, color="#e45756", linestyle="--", label="p99 目标")
        axis.set_xlabel("Web 工作进程数")
        axis.set_ylabel("毫秒")
        axis.set_title("放号分钟的预约请求排队（M/M/c）")
        axis.legend(fontsize=8)
        return _png(figure)


def fairness_chart(reports: list[FairnessReport]) -> bytes:
    with _cjk():
        figure, axes = _figure(1, 3, size=(12, 3.8))
        speed, ages, urgency = axes[0]
        width = 0.8 / max(1, len(reports))
        for offset, report in enumerate(reports):
            label = POLICY_LABELS.get(report.policy, report.policy)
            shift = (offset - (len(reports) - 1) / 2) * width
            speed.bar([d + 1 + shift for d in range(10)], report.by_speed_decile, width=width, label=label)
            ages.bar(
                [i + shift for i in range(len(AGE_BANDS))],
                [report.by_age_band[name] for name, _low, _high in AGE_BANDS],
                width=width,
                label=label,
            )
            keys = sorted(report.by_urgency)
            urgency.bar([i + shift for i in range(len(keys))], [report.by_urgency[k] for k in keys], width=width)
        speed.set_title("按网速十分位的成功率（1 = 最快）")
        speed.set_xticks(range(1, 11))
        ages.set_title("按年龄段的成功率")
        ages.set_xticks(range(len(AGE_BANDS)), [name for name, _low, _high in AGE_BANDS])
        urgency.set_title("按病情紧急程度的成功率")
        keys = sorted(reports[0].by_urgency) if reports else []
        urgency.set_xticks(range(len(keys)), [URGENCY_LABELS.get(k, str(k)) for k in keys])
        speed.legend(fontsize=8)
        return _png(figure)
