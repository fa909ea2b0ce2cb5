"""Form pieces every app's admin shares: a fee typed in yuan (20 or 20.00), stored in fen."""

from django import forms
from django.utils.translation import gettext_lazy as _

from config.money import fen_to_yuan, yuan_to_fen


class YuanField(forms.CharField):
    """Text in yuan; cleans to whole fen (int), with the one message for anything else."""

    default_error_messages = {"invalid": _("请输入金额，如 20 或 20.00。")}

    MAX_CHARACTERS = 12

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "maxlength": str(self.MAX_CHARACTERS)}

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            if len(value) > self.MAX_CHARACTERS:
                raise ValueError(value)
            return yuan_to_fen(value.strip())
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class YuanFieldsMixin:
    """For a ModelForm: `yuan_fields = {"fee": "fee_fen"}` maps each YuanField to the model's fen
    field: the form shows the stored fen as yuan and saves the cleaned fen back."""

    yuan_fields: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for form_name, model_name in self.yuan_fields.items():
                self.initial[form_name] = fen_to_yuan(getattr(self.instance, model_name))

    def save(self, commit=True):
        for form_name, model_name in self.yuan_fields.items():
            setattr(self.instance, model_name, self.cleaned_data[form_name])
        return super().save(commit=commit)
