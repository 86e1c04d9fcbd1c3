"""Cognito user pools as people have them (issue 10, `setup verify --create-test-user`).

What moto 5.2.5 already does:
  * UsernameAttributes: AdminCreateUser refuses a username that is neither an email nor a phone
    number, but always with "Username should be either an email or a phone number."; stores the
    user under a generated UUID username with the email / phone_number attribute set; finds the
    user by that email / phone (AdminGetUser, AdminSetUserPassword, InitiateAuth).
  * CreateUserPool refuses a required custom attribute ("Required custom attributes are not
    supported currently."), as AWS does.
  * AdminSetUserPassword / RespondToAuthChallenge check the pool's password policy, with one
    message for every failure and a maximum length of 98 (`len < 99`).

What this module adds, as AWS answers (InvalidParameterException unless said otherwise):
  * UsernameAttributes [email] -> "Username should be an email.", [phone_number] -> "Username
    should be a phone number.", both -> "Username should be either an email or a phone number.";
  * AliasAttributes: a username in email (phone) format is refused: "Username cannot be of email
    format, since user pool is configured for email alias." (".. phone number format .. phone
    number alias.");
  * AdminCreateUser checks the attributes against the schema: unknown ones ("custom:x: Attribute
    does not exist in the schema."), required ones missing or empty ("name: The attribute is
    required"), email / phone_number formats ("Invalid email address format." / "Invalid phone
    number format."), String MinLength/MaxLength (wording not confirmed against AWS), all in one
    "Attributes did not conform to the schema: ..." message, one line per problem;
  * InvalidPasswordException with AWS's wording on AdminSetUserPassword and on AdminCreateUser's
    TemporaryPassword: "Password did not conform with policy: Password not long enough" /
    "Password must have lowercase characters" / "... uppercase ..." / "... numeric ..." /
    "... symbol characters";
  * DescribeUserPool lists every standard attribute (sub Required), also when the pool was
    created with a Schema naming only some of them (moto then lists only those), as AWS does.
"""

from __future__ import annotations

import re

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"\+\d{1,15}")
SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-")
ALWAYS_VALID = {"email_verified", "phone_number_verified"}


def _invalid(message: str):
    from moto.cognitoidp.exceptions import InvalidParameterException

    return InvalidParameterException(message)


def _flat(attributes) -> dict:
    return {a.get("Name"): a.get("Value") for a in attributes or [] if isinstance(a, dict)}


def check_username(pool, username: str) -> None:
    config = pool.extended_config
    as_username = config.get("UsernameAttributes") or []
    if as_username:
        ok = (("email" in as_username and EMAIL_RE.fullmatch(username or ""))
              or ("phone_number" in as_username and PHONE_RE.fullmatch(username or "")))
        if not ok:
            if set(as_username) >= {"email", "phone_number"}:
                raise _invalid("Username should be either an email or a phone number.")
            if "email" in as_username:
                raise _invalid("Username should be an email.")
            raise _invalid("Username should be a phone number.")
    aliases = config.get("AliasAttributes") or []
    if "email" in aliases and EMAIL_RE.fullmatch(username or ""):
        raise _invalid("Username cannot be of email format, since user pool is configured for email alias.")
    if "phone_number" in aliases and PHONE_RE.fullmatch(username or ""):
        raise _invalid("Username cannot be of phone number format, since user pool is configured "
                       "for phone number alias.")


def schema_problems(pool, attributes: dict) -> list[str]:
    from moto.cognitoidp.models import CognitoIdpUserPoolAttribute

    schema = pool.schema_attributes
    standard = CognitoIdpUserPoolAttribute.STANDARD_SCHEMA
    problems = []
    for name, value in attributes.items():
        if name in ALWAYS_VALID:
            continue
        if name not in schema and name not in standard:
            problems.append(f"{name}: Attribute does not exist in the schema.")
            continue
        if name == "email" and value and not EMAIL_RE.fullmatch(value):
            problems.append("email: Invalid email address format.")
        if name == "phone_number" and value and not PHONE_RE.fullmatch(value):
            problems.append("phone_number: Invalid phone number format.")
        attr = schema.get(name)
        constraints = (attr.string_constraints if attr is not None
                       else standard.get(name, {}).get("StringAttributeConstraints")) or {}
        if isinstance(value, str) and constraints:
            low = int(constraints.get("MinLength") or 0)
            high = int(constraints.get("MaxLength") or 2048)
            if value and not low <= len(value) <= high:
                problems.append(f"{name}: String must be between {low} and {high} characters long")
    for name, attr in schema.items():
        if attr.required and name != "sub" and not attributes.get(name):
            problems.append(f"{name}: The attribute is required")
    return problems


def password_problem(pool, password: str) -> str | None:
    policy = pool.extended_config.get("Policies", {}).get("PasswordPolicy", {})
    checks = [
        (len(password) >= int(policy.get("MinimumLength", 8)), "Password not long enough"),
        (len(password) <= 256, "Password is too long"),
        (not policy.get("RequireLowercase", False) or re.search(r"[a-z]", password),
         "Password must have lowercase characters"),
        (not policy.get("RequireUppercase", False) or re.search(r"[A-Z]", password),
         "Password must have uppercase characters"),
        (not policy.get("RequireNumbers", False) or re.search(r"[0-9]", password),
         "Password must have numeric characters"),
        (not policy.get("RequireSymbols", False)
         or any(c in SYMBOLS for c in password) or " " in password.strip(),
         "Password must have symbol characters"),
    ]
    for ok, problem in checks:
        if not ok:
            return f"Password did not conform with policy: {problem}"
    return None


def _raise_password(pool, password: str) -> None:
    from moto.core.exceptions import JsonRESTError

    problem = password_problem(pool, password)
    if problem:
        raise JsonRESTError(error_type="InvalidPasswordException", message=problem)


def patch() -> None:
    from moto.cognitoidp.models import (
        CognitoIdpBackend,
        CognitoIdpUserPool,
        CognitoIdpUserPoolAttribute,
    )

    original_create = CognitoIdpBackend.admin_create_user

    def admin_create_user(self, user_pool_id, username, message_action, temporary_password, attributes):
        pool = self.describe_user_pool(user_pool_id)
        if message_action != "RESEND":
            check_username(pool, username)
            flat = _flat(attributes)
            as_username = pool.extended_config.get("UsernameAttributes") or []
            for kind, pattern in (("email", EMAIL_RE), ("phone_number", PHONE_RE)):
                if kind in as_username and pattern.fullmatch(username or ""):
                    flat.setdefault(kind, username)
                    break
            problems = schema_problems(pool, flat)
            if problems:
                raise _invalid("Attributes did not conform to the schema: "
                               + "".join(p + "\n" for p in problems))
            if temporary_password:
                _raise_password(pool, temporary_password)
        return original_create(self, user_pool_id, username, message_action, temporary_password, attributes)

    CognitoIdpBackend.admin_create_user = admin_create_user

    def _validate_password(self, user_pool_id, password):
        _raise_password(self.describe_user_pool(user_pool_id), password)

    CognitoIdpBackend._validate_password = _validate_password

    original_init = CognitoIdpUserPool.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        given = self.schema_attributes
        full = {}
        for name, spec in CognitoIdpUserPoolAttribute.STANDARD_SCHEMA.items():
            full[name] = given.get(name) or CognitoIdpUserPoolAttribute(name, False, spec)
        for name, attr in given.items():
            full.setdefault(name, attr)
        self.schema_attributes = full

    CognitoIdpUserPool.__init__ = init
