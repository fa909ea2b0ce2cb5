from django.http import Http404
from django.shortcuts import render

from hospital import selectors


def home(request):
    return render(request, "hospital/home.html", {"hospitals": selectors.active_hospitals()})


def hospital_detail(request, code):
    hospital = selectors.active_hospital_by_code(code=code)
    if hospital is None:
        raise Http404
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
