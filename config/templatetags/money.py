"""`{{ fee_fen|yuan }}`: fen shown as yuan text on every page, patients' and staff's alike
(config.money does the maths); blank for no amount."""

from django import template

from config.money import fen_to_yuan

register = template.Library()


@register.filter
def yuan(amount_fen) -> str:
    if amount_fen is None or amount_fen == "":
        return ""
    return fen_to_yuan(int(amount_fen))
