from django import template

from config.money import fen_to_yuan

register = template.Library()


@register.filter
def yuan(amount_fen):
    """Fen as yuan text (1250 -> 12.50) on the booking pages."""
    return fen_to_yuan(int(amount_fen or 0))
