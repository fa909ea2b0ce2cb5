from django.shortcuts import get_object_or_404, render

from hospital import selectors
from hospital.models import Hospital


def home(request):
    return render(request, "hospital/home.html", {"hospitals": selectors.active_hospitals()})


def hospital_detail(request, code):
    hospital = get_object_or_404(Hospital, code=code, is_active=True)
    return render(
        request,
        "hospital/hospital_detail.html",
        {
            "hospital": hospital,
            "rules": selectors.rules_for(hospital_id=hospital.pk),
            "departments": selectors.open_department_tree(hospital=hospital),
            "doctors": selectors.doctors_of(hospital=hospital),
        },
    )
