"""A starter set of 导诊 keywords (superusers edit them in the admin). Children are under 14."""

from django.db import migrations

CHILD = (None, 13)
ADULT = (14, None)
ANY = (None, None)

# (keyword, department kind, weight, (min_age, max_age))
STARTER = [
    ("胸闷", "cardiology", 4, ANY),
    ("胸闷", "respiratory", 2, ANY),
    ("胸痛", "cardiology", 4, ANY),
    ("胸痛", "emergency", 3, ANY),
    ("心慌", "cardiology", 4, ANY),
    ("心悸", "cardiology", 4, ANY),
    ("高血压", "cardiology", 3, ANY),
    ("发烧", "internal", 3, ADULT),
    ("发烧", "fever", 2, ANY),
    ("发烧", "pediatrics", 4, CHILD),
    ("发热", "internal", 3, ADULT),
    ("发热", "fever", 2, ANY),
    ("发热", "pediatrics", 4, CHILD),
    ("孩子发烧", "pediatrics", 6, ANY),
    ("小孩发烧", "pediatrics", 6, ANY),
    ("孩子", "pediatrics", 3, ANY),
    ("宝宝", "pediatrics", 3, ANY),
    ("咳嗽", "respiratory", 4, ADULT),
    ("咳嗽", "pediatrics", 4, CHILD),
    ("气短", "respiratory", 3, ANY),
    ("呼吸困难", "emergency", 4, ANY),
    ("呼吸困难", "respiratory", 3, ANY),
    ("膝盖疼", "orthopedics", 5, ANY),
    ("膝盖痛", "orthopedics", 5, ANY),
    ("关节痛", "orthopedics", 4, ANY),
    ("腰疼", "orthopedics", 4, ANY),
    ("腰痛", "orthopedics", 4, ANY),
    ("骨折", "orthopedics", 5, ANY),
    ("骨折", "emergency", 3, ANY),
    ("外伤", "surgery", 3, ANY),
    ("外伤", "emergency", 3, ANY),
    ("头痛", "neurology", 4, ANY),
    ("头疼", "neurology", 4, ANY),
    ("头晕", "neurology", 3, ANY),
    ("失眠", "neurology", 2, ANY),
    ("腹痛", "gastroenterology", 4, ADULT),
    ("腹痛", "pediatrics", 4, CHILD),
    ("腹痛", "surgery", 2, ANY),
    ("肚子疼", "gastroenterology", 4, ADULT),
    ("肚子疼", "pediatrics", 4, CHILD),
    ("胃疼", "gastroenterology", 4, ANY),
    ("腹泻", "gastroenterology", 4, ADULT),
    ("腹泻", "pediatrics", 4, CHILD),
    ("拉肚子", "gastroenterology", 4, ADULT),
    ("拉肚子", "pediatrics", 4, CHILD),
    ("血糖高", "endocrinology", 4, ANY),
    ("甲状腺", "endocrinology", 4, ANY),
    ("尿频", "urology", 4, ANY),
    ("尿痛", "urology", 4, ANY),
    ("皮疹", "dermatology", 4, ANY),
    ("皮疹", "pediatrics", 3, CHILD),
    ("湿疹", "dermatology", 4, ANY),
    ("瘙痒", "dermatology", 3, ANY),
    ("牙疼", "stomatology", 5, ANY),
    ("牙痛", "stomatology", 5, ANY),
    ("视力模糊", "ophthalmology", 5, ANY),
    ("眼睛疼", "ophthalmology", 4, ANY),
    ("眼睛红", "ophthalmology", 4, ANY),
    ("耳鸣", "ent", 4, ANY),
    ("嗓子疼", "ent", 4, ANY),
    ("喉咙痛", "ent", 4, ANY),
    ("鼻塞", "ent", 3, ANY),
    ("月经不调", "gynecology", 5, ANY),
    ("月经不调", "obgyn", 5, ANY),
    ("痛经", "gynecology", 4, ANY),
    ("痛经", "obgyn", 4, ANY),
    ("怀孕", "obstetrics", 5, ANY),
    ("怀孕", "obgyn", 5, ANY),
    ("孕检", "obstetrics", 5, ANY),
    ("孕检", "obgyn", 5, ANY),
]


def seed(apps, schema_editor):
    TriageKeyword = apps.get_model("hospital", "TriageKeyword")
    for keyword, kind, weight, (min_age, max_age) in STARTER:
        TriageKeyword.objects.get_or_create(
            keyword=keyword,
            department_kind=kind,
            defaults={"weight": weight, "min_age": min_age, "max_age": max_age},
        )


def unseed(apps, schema_editor):
    TriageKeyword = apps.get_model("hospital", "TriageKeyword")
    for keyword, kind, _weight, _ages in STARTER:
        TriageKeyword.objects.filter(keyword=keyword, department_kind=kind).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("hospital", "0004_department_kind_triagekeyword"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
