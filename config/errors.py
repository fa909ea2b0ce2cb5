"""The one base class for errors a user can cause; each app subclasses it in `<app>/errors.py`."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "error"
    status = 400
    message = _("请求无法完成。")

    def __init__(self, message=None, **params):
        self.params = params
        if message is not None:
            self.message = message
        super().__init__(str(self.detail))

    @property
    def detail(self) -> str:
        text = str(self.message)
        return text % self.params if self.params and "%(" in text else text

    def as_dict(self) -> dict:
        body = {"code": self.code, "detail": self.detail}
        extra = {key: value for key, value in self.params.items() if isinstance(value, (str, int, float, bool))}
        if extra:
            body["params"] = extra
        return body
