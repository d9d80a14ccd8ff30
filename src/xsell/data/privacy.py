"""Customers' privacy at ingest: keyed pseudonyms for customer ids, personal-data columns dropped.

A pseudonym is the HMAC-SHA256 of the customer id under a secret key: the same
id always gives the same pseudonym (so a customer's orders stay together, and
the serving layer can look a raw id up), while without the key nobody can tell
which customer a pseudonym stands for, nor test a guess. The key comes from
``XSELL_PSEUDONYM_KEY`` or a key file and is never written anywhere by xsell;
the store keeps only a check value (the HMAC of a fixed text) to refuse a second
ingest made with another key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from xsell.data.sql import fetch_one, ident
from xsell.errors import ValidationError

KEY_ENV: Final = "XSELL_PSEUDONYM_KEY"
#: Keys shorter than this are refused (an HMAC key should be hard to guess).
MIN_KEY_BYTES: Final = 16
_CHECK_TEXT: Final = b"xsell pseudonym key check"
_INTEGRAL: Final = re.compile(r"^(-?\d+)\.0+$")

#: Column names that hold personal data (compared without case, spaces, '_' or '-').
PERSONAL_NAMES: Final = {
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
    "customeremail": "email",
    "name": "name",
    "fullname": "name",
    "firstname": "name",
    "lastname": "name",
    "surname": "name",
    "givenname": "name",
    "familyname": "name",
    "customername": "name",
    "contactname": "name",
    "phone": "phone",
    "phonenumber": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "mobilephone": "phone",
    "cell": "phone",
    "address": "address",
    "street": "address",
    "streetaddress": "address",
    "addressline1": "address",
    "addressline2": "address",
    "address1": "address",
    "address2": "address",
    "billingaddress": "address",
    "shippingaddress": "address",
    "postcode": "address",
    "postalcode": "address",
    "zip": "address",
    "zipcode": "address",
    "ipaddress": "address",
    "ip": "address",
    "birthdate": "birth date",
    "dateofbirth": "birth date",
    "dob": "birth date",
}
_EMAIL: Final = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
# A phone number: 7-15 digits written with a leading + or with spaces, dots, dashes or
# brackets between groups; a plain run of digits (an id, a barcode) is not one.
_PHONE: Final = r"^(\+[0-9][0-9 ().-]{6,20}|\(?[0-9]{2,5}\)?[ .-][0-9 .-]{4,16}[0-9])$"
_STREET: Final = (
    r"(?i)^[0-9]+[a-z]?,? [a-z .'-]+ (street|st|road|rd|avenue|ave|lane|ln|drive|dr|"
    r"boulevard|blvd|way|close|court|ct|place|pl|square|sq|terrace|crescent)\.?(,.*)?$"
)
#: Share of a column's values that must look personal for the column to count as personal.
VALUE_SHARE: Final = 0.5


def read_key(key_file: str | Path | None = None) -> bytes:
    """The pseudonym key: the key file's bytes (stripped), else ``XSELL_PSEUDONYM_KEY``.

    Raises
    ------
    ValidationError
        When neither is given, or the key is shorter than :data:`MIN_KEY_BYTES`.
    """
    if key_file is not None:
        path = Path(key_file)
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise ValidationError(
                f"{path}: cannot read the pseudonym key file: {exc.strerror or exc}"
            ) from None
        where = f"the key file {path}"
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode()
        where = KEY_ENV
        if not key:
            raise ValidationError(
                f"pseudonyms need a secret key: set {KEY_ENV} or give --key-file FILE "
                f"(at least {MIN_KEY_BYTES} bytes, e.g. from `openssl rand -hex 32`)"
            )
    if len(key) < MIN_KEY_BYTES:
        raise ValidationError(
            f"the pseudonym key in {where} has {len(key)} bytes; use at least {MIN_KEY_BYTES}"
        )
    return key


def canonical_id(customer_id: object) -> str:
    """A customer id as the store keeps it: trimmed text, ``17850.0`` written ``17850``."""
    if isinstance(customer_id, float) and customer_id.is_integer():
        return str(int(customer_id))
    text = str(customer_id).strip()
    match = _INTEGRAL.match(text)
    return match.group(1) if match else text


def pseudonymize(customer_id: object, key: bytes | str) -> str:
    """The pseudonym of a customer id: HMAC-SHA256 under ``key``, as 64 hex digits.

    The id is first written as the store writes ids (:func:`canonical_id`), so
    ``17850``, ``"17850"`` and ``"17850.0"`` share one pseudonym.

    Examples
    --------
    >>> pseudonymize("17850", b"0123456789abcdef") == pseudonymize(17850.0, b"0123456789abcdef")
    True
    """
    secret = key.encode() if isinstance(key, str) else key
    message = canonical_id(customer_id).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def key_check(key: bytes) -> str:
    """A value that tells two keys apart without revealing either (kept in the store)."""
    return hmac.new(key, _CHECK_TEXT, hashlib.sha256).hexdigest()[:16]


def pseudonymize_column(con: duckdb.DuckDBPyConnection, table: str, column: str, key: bytes) -> int:
    """Replace every id in ``table.column`` by its pseudonym; returns the distinct ids replaced."""
    ids = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT {ident(column)} FROM {ident(table)} WHERE {ident(column)} IS NOT NULL"
        ).fetchall()
    ]
    if not ids:
        return 0
    mapping = pa.table(
        {"raw_id": pa.array(ids, pa.string()), "pseudonym": [pseudonymize(i, key) for i in ids]}
    )
    con.register("pseudonyms", mapping)
    con.execute(
        f"UPDATE {ident(table)} SET {ident(column)} = p.pseudonym FROM pseudonyms p "
        f"WHERE {ident(table)}.{ident(column)} = p.raw_id"
    )
    con.unregister("pseudonyms")
    return len(ids)


@dataclass(frozen=True)
class PrivacyOptions:
    """What an ingest does for customers' privacy.

    Attributes
    ----------
    key:
        Pseudonym key; ``None``: customer ids are kept as they are.
    keep_columns:
        Columns kept although they look like personal data (``--keep-column``).
    """

    key: bytes | None = None
    keep_columns: tuple[str, ...] = ()


def _normal(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name.lower())


def personal_columns(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    schema: pa.Schema,
    candidates: Iterable[str],
    keep: Sequence[str] = (),
    sample: int = 10_000,
) -> dict[str, str]:
    """Columns of ``relation`` holding personal data: ``{column: why}``.

    A column counts by its name (email, name, phone, address and the like) or by
    its values: most of a sample of its text values look like e-mail addresses,
    phone numbers or street addresses. Columns in ``keep`` never count.
    """
    kept = set(keep)
    types = {f.name: f.type for f in schema}
    found: dict[str, str] = {}
    text_columns = []
    for column in candidates:
        if column in kept:
            continue
        kind = PERSONAL_NAMES.get(_normal(column))
        if kind is not None:
            found[column] = f"{kind} (by its name)"
            continue
        arrow_type = types.get(column)
        if arrow_type is not None and (
            pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
        ):
            text_columns.append(column)
    if not text_columns:
        return found
    shares = (
        "avg(CASE WHEN v IS NULL THEN NULL WHEN regexp_matches(v, ?) THEN 1.0 ELSE 0 END), "
        "avg(CASE WHEN v IS NULL THEN NULL WHEN regexp_matches(v, ?) AND "
        "TRY_CAST(v AS TIMESTAMP) IS NULL THEN 1.0 ELSE 0 END), "
        "avg(CASE WHEN v IS NULL THEN NULL WHEN regexp_matches(v, ?) THEN 1.0 ELSE 0 END)"
    )
    for column in text_columns:
        row = fetch_one(
            con.execute(
                f"WITH s AS (SELECT NULLIF(TRIM(CAST({ident(column)} AS VARCHAR)), '') AS v "
                f"FROM {ident(relation)} LIMIT {int(sample)}) SELECT {shares} FROM s",
                [_EMAIL, _PHONE, _STREET],
            )
        )
        if row is None:
            continue
        for share, kind in zip(row, ("email", "phone", "address"), strict=True):
            if share is not None and share >= VALUE_SHARE:
                found[column] = f"{kind} (by its values: {share:.0%} look like one)"
                break
    return found
