"""Contact details rules (ID-8): a mobile number in E.164, validated by Google's
libphonenumber; an e-mail address validated by email-validator."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from vaccinera_kit.errors import DomainError, ErrorDetail

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_mobile(raw: str) -> str:
    """``070-123 45 67`` or ``+46 70 123 45 67`` -> ``+46701234567``; numbers without a
    country code are read as Swedish."""
    try:
        number = phonenumbers.parse(raw, "SE")
    except NumberParseException as exc:
        raise _invalid("mobile", "unparseable", "Not a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise _invalid(
            "mobile",
            "invalid_number",
            "Not a valid phone number: Swedish numbers like 070-123 45 67, others with their "
            "country code like +47 412 34 567.",
        )
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise _invalid("mobile", "not_mobile", "Not a mobile number: text messages need a mobile.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise _invalid("email", "invalid_email", f"Not a valid e-mail address: {exc}") from exc


def _invalid(field: str, rule: str, message: str) -> DomainError:
    return DomainError(
        message,
        code="invalid_contact",
        details=[ErrorDetail(field=field, rule=rule, message=message)],
    )
