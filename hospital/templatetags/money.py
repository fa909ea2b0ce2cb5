"""`{{ fee_fen|yuan }}`: fen shown as yuan text in the patient pages (config.money does the maths)."""

from django import template

from config.money import fen_to_yuan

register = template.Library()


@register.filter
def yuan(amount_fen: int) -> str:
    return fen_to_yuan(amount_fen)
