"""Reusable browser steps for the patient pages (accounts, finding a doctor, 长辈模式).

Each takes a Playwright page on the live server and leaves it where the next step starts, so they
chain with booking/tests/walks.py into one new-user walk (booking/tests/test_new_user_walk.py).
"""

import logging
import re
from contextlib import contextmanager

CODE = re.compile(r"验证码为(\d{6})")


class _Inbox(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.texts: list[str] = []

    def emit(self, record):
        self.texts.append(record.getMessage())


@contextmanager
def sms_inbox():
    """The texts the console SMS backend logs ("SMS to 138****5678 [template]: …") meanwhile.

    Tests run Celery eagerly, so a page's SMS is delivered before its response returns."""
    logger = logging.getLogger("notifications")
    inbox, level = _Inbox(), logger.level
    logger.addHandler(inbox)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield inbox.texts
    finally:
        logger.removeHandler(inbox)
        logger.setLevel(level)


def code_sent_to(texts: list[str], phone: str) -> str:
    masked = f"{phone[:3]}****{phone[-4:]}"
    codes = [CODE.search(text).group(1) for text in texts if masked in text and CODE.search(text)]
    assert codes, f"no 验证码 was texted to {masked}: {texts}"
    return codes[-1]


def sign_up_by_sms(page, phone: str) -> None:
    """Sign up with a mainland mobile number and the SMS 验证码; ends signed in on the home page."""
    page.goto("/accounts/signup/")
    page.get_by_label("手机号").fill(phone)
    with sms_inbox() as texts:
        page.get_by_role("button", name="获取验证码并注册").click()
        page.wait_for_url("**/accounts/phone/verify/**")
    page.get_by_label("验证码").fill(code_sent_to(texts, phone))
    page.get_by_role("button", name=re.compile("确认|验证")).click()
    page.wait_for_url(lambda url: "/accounts/" not in url)


def add_patient(page, *, name: str, id_number: str, gender: str, birth_date: str, relation: str = "本人") -> None:
    """Add a 就诊人 (gender "男"/"女", birth_date "YYYY-MM-DD"); ends on the 就诊人 list."""
    page.goto("/patients/new/")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("与我的关系").select_option(label=relation)
    page.get_by_label("证件号码").fill(id_number)
    page.get_by_label(gender, exact=True).check()
    page.get_by_label("出生日期").fill(birth_date)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/patients/")


def find_doctor_by_symptom(page, symptom: str) -> None:
    """From the home page: type a symptom, take the first department 导诊 suggests, then its first
    doctor; ends on the doctor's page."""
    page.goto("/")
    page.get_by_role("searchbox").fill(symptom)
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search/**")
    page.locator("ul.cards").first.locator("h3 a").first.click()  # 按症状推荐的科室 come first
    page.wait_for_url("**/departments/**")
    page.locator("ul.cards h3 a").first.click()
    page.wait_for_url("**/doctors/**")


def toggle_elderly(page) -> None:
    """Press the 长辈模式 switch at the top of any page; stays on the same page."""
    with page.expect_navigation():
        page.locator("form.elderly-switch button").click()


def log_in_with_password(page, phone: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("手机号").fill(phone)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="用密码登录").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
