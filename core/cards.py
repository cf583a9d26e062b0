"""Prakerja card numbers: 16 digits, the last a Luhn check digit so typos are caught at the marketplace."""

import secrets


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def new_card_number() -> str:
    body = str(secrets.randbelow(9 * 10**14) + 10**14)  # 15 digits, no leading zero
    return body + luhn_digit(body)


def is_card_number(value: str) -> bool:
    return len(value) == 16 and value.isdigit() and luhn_digit(value[:-1]) == value[-1]
