"""Credentials in what backout prints, replaced by ``***``.

Credentials are never printed or logged, yet the files backout reads may hold one and findings
quote what they read: an image reference written as a URL with a password
(``https://admin:pw@registry:5000/shop/api:latest``) or without its scheme
(``admin:pw@registry:5000/shop/api``), a URL with a token in its query (``?token=…``,
``&password=…``), a setting named as a credential, the password a shell command takes as an
option or a header (``mysql -ps3cret``, ``docker login -p s3cret``, ``Authorization: Bearer
s3cret``, ``Cookie: sid=s3cret``), and the lines of such a setting's value below its name, a
Terraform variable's ``default`` and output's ``value`` among them
(:func:`continued_secret_spans`). What only looks like one stays shown: a reference
(``$X``, ``${{ secrets.X }}``, compose's ``$$X``, Terraform's ``var.x``), a prompt
(``mysql -p db``, ``psql --password db``), prose that names an option (``use --password
to set it``). Every report is masked here before it is
written: the check formats in :func:`backout.report.render`, the ``full`` format's source
lines, and ``plan``.

The user name is kept, as git shows ``https://user@host``: it says whose credential to rotate
and is no secret by itself. The password or token becomes ``***``, as curl masks it. A secret
found once is also masked wherever else the same report quotes it: rules quote pieces of a
reference (the image grammar reads ``bob:pw@registry/app`` as repository ``bob`` with tag
``pw``, and the fix it suggests is ``bob:pw@sha256:…``).
"""

from __future__ import annotations

import bisect
import re
import string
from collections.abc import Iterable, Iterator
from typing import Any

MASK = "***"

# ``scheme://user:secret@host``: the secret may hold ``@`` (the last one before the host ends
# it), never a quote, a comma or a bracket, so quoted data (``'12:30:00','u@example.io/p'``)
# is no password and an attempt stops at the first such character (long lines stay linear).
# Matched from ``://`` on: the scheme changes nothing, and a pattern that starts with a literal
# is searched for fast.
_URL_PASSWORD = re.compile(r"://[^\s/?#@:`'\"]*:(?P<secret>[^\s/?#`'\",;()<>]+)@")
# ``user:secret@host/…`` with no scheme, as a word of its own or a shell default
# (``${IMAGE:-user:secret@host/…}``). The host must be followed by a path: ``app:1.2@sha256:…``
# is a tag and a digest, not a user and a password.
_BARE_PASSWORD = re.compile(
    r"(?<![^\s`'\"(\[{<=,;|-])[^\s/?#@:`'\",;()<>]+:(?P<secret>[^\s/?#@:`'\",;()<>]+)@"
    r"(?=[A-Za-z0-9.-]+(?::[0-9]+)?/)"
)
# ``?token=…``, ``&password=…``, ``&X-Amz-Signature=…``: query parameters that carry a secret.
_QUERY_PARAMETER = re.compile(r"[?&](?P<name>[\w.~-]+)=(?P<secret>[^&#\s`'\"<>,;()]+)")
# The words glued to ``key`` that make it a credential's name (``apikey``, ``privkey``,
# ``HONEYCOMB_WRITEKEY``): detect-secrets' keyword list (``apikey``, ``appkey``, ``authkey``,
# ``servicekey``, ``accountkey``, ``dbkey``, ``clientkey``, ``privkey``…, in
# ``detect_secrets/plugins/keyword.py``) and the names of keys that sign, encrypt or log in
# (``passkey``: a private tracker's ``?passkey=``, a pairing's PIN).
# Glued to any other word (``monkey``, ``hotkey``) ``key`` is part of the word.
_KEY_QUALIFIERS = (
    "api|app|application|auth|service|account|client|consumer|subscription|db|database"
    "|private|priv|secret|access|signing|sign|encryption|encrypt|decryption|crypt|crypto"
    "|cipher|aes|hmac|jwt|ssh|gpg|pgp|rsa|tls|ssl|master|root|session|storage|shared"
    "|license|licence|admin|deploy|webhook|server|sas|write|ingest|enc|kms|pass"
)
# Services whose key a name glues to ``key`` in one case (``stripekey``, ``SENDGRIDKEY``), where
# no word can be told apart: masked as ``stripeKey`` and ``stripe_key`` are. A word no list
# names glued to ``key`` in one case stays shown (``monkey``, ``turnkey``, ``sortkey``).
_SERVICE_KEYS = (
    "stripe|openai|anthropic|gemini|mistral|cohere|groq|huggingface|replicate|pinecone"
    "|elevenlabs|deepl|deepgram|sendgrid|mailgun|mailchimp|mandrill|postmark|sparkpost|mailjet"
    "|sendinblue|brevo|resend|twilio|nexmo|vonage|plivo|telnyx|sentry|datadog|newrelic|bugsnag"
    "|rollbar|airbrake|honeybadger|raygun|logdna|loggly|papertrail|algolia|typesense|pusher"
    "|mapbox|googlemaps|gmaps|google|firebase|onesignal|mixpanel|amplitude"
    "|posthog|intercom|zendesk|hubspot|salesforce|slack|discord|telegram|github|gitlab"
    "|bitbucket|heroku|cloudflare|fastly|netlify|vercel|digitalocean|linode|aws|azure|gcp"
    "|captcha|turnstile|paypal|braintree|plaid|shopify|contentful|sanity"
    "|cloudinary|imgix|launchdarkly|optimizely|unsplash|giphy|tmdb|youtube|spotify|twitch"
    "|twitter|facebook|linkedin|openweather|supabase|clerk|okta|doppler|snyk|codecov"
    "|coveralls|circleci|nuget|npm|pypi|dockerhub|jfrog|artifactory"
)
# The words that say a ``key`` written as a word of its own (``sort_key``, ``sortKey``,
# ``SORT_KEY``) is no credential but a key of data, when they start a word themselves
# (``unlock_key`` is no ``lock_key``): anything else before it may name whose key it is
# (``stripe_key``, ``openaiKey``, ``ca_key``), and a key no list names ahead is masked.
# gitleaks' ``generic-api-key`` takes any ``key`` and needs an entropy test to drop
# ``sort_key``; a name here has no value to weigh. Not a word that names a service's key as
# often as a key of data: ``hash`` (``ECPAY_HASH_KEY``, securecookie's ``SESSION_HASH_KEY``),
# ``map`` (``GOOGLE_MAP_KEY``), ``index`` (CipherSweet's ``BLIND_INDEX_KEY``),
# ``distribution`` (``DEPLOYGATE_DISTRIBUTION_KEY``): a leak is worse than a masked hash key.
_DATA_KEYS = (
    "sort",
    "partition",
    "cache",
    "primary",
    "foreign",
    "public",
    "pub",
    "idempotency",
    "idempotence",
    "range",
    "lookup",
    "shard",
    "row",
    "unique",
    "composite",
    "natural",
    "surrogate",
    "dedup",
    "dedupe",
    "group",
    "dict",
    "translation",
    "i18n",
    "message",
    "label",
    "cluster",
    "clustering",
    "join",
    "cursor",
    "sequence",
    "lock",
    # a keyboard's (``hotKey``, ``shortcut_key``), as ``hotkey`` is
    "hot",
    "shortcut",
)
# Where a word of a name starts: at the name's start, after a character that is no letter or
# digit, or at an upper-case letter after a lower-case one or a digit (``dbSortKey``).
_WORD_START = r"(?:(?<![a-z0-9])|(?<=(?-i:[a-z0-9]))(?=(?-i:[A-Z])))"


def _by_length(words: Iterable[str]) -> list[str]:
    """``words`` as alternations of words of one length each: what a lookbehind, which has one
    width, can hold. One lookbehind of many words is tried at once, one for each word is not."""
    lengths: dict[int, list[str]] = {}
    for word in words:
        lengths.setdefault(len(word), []).append(word)
    return ["|".join(lengths[size]) for size in sorted(lengths)]


# A word of :data:`_KEY_QUALIFIERS` glued to a ``key`` here, or before a separator; a word of
# :data:`_SERVICE_KEYS` glued to it (before a separator any word but a key of data is masked);
# ``primary`` after ``encryption``: Rails' ``ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY``
# (``active_record.encryption.primary_key``) encrypts, a ``primary_key`` alone names a column.
_AFTER_QUALIFIER = "|".join(
    [
        f"(?<={words})"
        for words in _by_length([*_KEY_QUALIFIERS.split("|"), *_SERVICE_KEYS.split("|")])
    ]
    + [rf"(?<=(?:{words})[._-])" for words in _by_length(_KEY_QUALIFIERS.split("|"))]
    + [
        r"(?<=encryptionprimary)|(?<=encryption[._-]primary|encryptionprimary[._-])"
        r"|(?<=encryption[._-]primary[._-])"
    ]
)
# No word of :data:`_DATA_KEYS` that starts a word before a ``key`` here, nor before a separator.
_NOT_AFTER_DATA = "".join(
    rf"(?<!{_WORD_START}(?:{words}))(?<!{_WORD_START}(?:{words})[._-])"
    for words in _by_length(_DATA_KEYS)
)
# The names that say a value is not a credential but where it is or what it is, at the end.
_NOT_A_CREDENTIAL = "|".join(
    f"(?<={words})"
    for words in _by_length(
        ("name", "names", "ref", "file", "path", "dir", "size", "type", "length", "id")
    )
)
SECRET_NAME = re.compile(
    # For speed, the lists of words are looked behind, from the name's end or from a ``key``,
    # and the alternatives are tried only where one of their first letters (``[tspcakdjn]``) is:
    # a long name is read once, not once for every word (same matches as one alternative a word).
    rf"^(?!.*$(?:{_NOT_A_CREDENTIAL}))(?:"
    # ``key`` alone; ``SORT_KEY`` is judged as ``sort_key`` below.
    r"key$|.*(?=[tspcakdjn])(?:"
    r"token(?!iz)|secret|passw|pwd|credential|signature|auth(?!or(?!i))|keypass|storepass"
    # ``key``: glued to a word of :data:`_KEY_QUALIFIERS` or after it and a separator
    # (``apikey``, ``api_key``); or as a word of its own, at the start, after a separator or a
    # digit (``S3KEY`` as ``s3key``), or after a lower-case letter as ``Key`` (camelCase),
    # unless a word of :data:`_DATA_KEYS` is before it.
    rf"|(?=keys?(?![a-z]))(?:{_AFTER_QUALIFIER}"
    rf"|{_NOT_AFTER_DATA}(?:(?<![a-z])|(?<=(?-i:[a-z]))(?=(?-i:K))))"
    r"|(?<![a-z])pass(?:phrase)?(?![a-z])|(?<![a-z])sig(?![a-z])|(?<![a-z])pgpass(?![a-z])"
    # a salt (``NONCE_SALT``, ``passwordSalt``; not ``basalt``), Erlang's distribution cookie
    rf"|{_WORD_START}salt(?![a-z])"
    # short names of keys: NATS's nkey, a key (or data) encryption key, a JSON Web Key, a
    # pre-shared key, as words of their own (``NATS_NKEY``, ``KEK``; not ``kekule``)
    r"|(?<![a-z])(?:nkey|kek|dek|jwk|psk)(?![a-z])"
    r"|(?:(?<=erlang)|(?<=erlang[._-])|(?<=release)|(?<=release[._-]))cookie(?![a-z])))",
    re.I,
)
"""A variable, setting, element or parameter name that says its value is a credential
(``API_TOKEN``, ``DB_PASSWORD``, ``DB_PASS``, ``apiKey``, ``Authorization``, ``?sig=``,
``NONCE_SALT``, ``RABBITMQ_ERLANG_COOKIE``, ``PGPASS``, ``NATS_NKEY``, ``KEK``); one
pattern for what the readers keep out of their facts and what a report masks. Not a name that
says its value is where a credential is or what it is (``secretName``, ``password_file``,
``token_type``, ``AWS_ACCESS_KEY_ID``), nor ``author``, nor a key of data (``sort_key``,
``primary_key``, ``foreign_keys``, ``public_key``, ``monkey``): any other ``key`` is masked
(``stripe_key``, ``ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY``), nor a full-text
``tokenize``/``tokenizer``. A name written with separators is judged the same in any case
(``SORT_KEY`` as ``sort_key``, ``STRIPE_KEY`` as ``stripe_key``), and glued in one case as in
camelCase where its words are known (``stripekey`` as ``stripeKey``, ``sortkey`` as
``sortKey``); an unknown word glued to ``key`` is part of the word (``turnkey``)."""
# What every name :data:`SECRET_NAME` finds holds, sought in lower case with ``in``: the
# pattern itself takes half a microsecond a character (1.5 s over a large report's texts).
_SECRET_WORDS = (
    "pass",
    "pwd",
    "token",
    "secret",
    "key",
    "auth",
    "credential",
    "sig",
    "salt",
    "cookie",
    "kek",
    "dek",
    "jwk",
    "psk",
)


def names_a_secret(text: str) -> bool:
    """Whether ``text`` may hold a name :data:`SECRET_NAME` finds, told in C."""
    lowered = text.lower()
    return any(word in lowered for word in _SECRET_WORDS)


# What follows the name of a setting (``NAME=value``, ``NAME: value``, ``"name": "value"``,
# ``password='x'``, an XML attribute): its value quoted (the quote may be unclosed: the line
# does not parse), a reference, or a word. A ``:`` must be followed by a blank or a quote, so
# that ``image:tag`` and ``https://`` are no settings.
_SETTING_VALUE = re.compile(
    r"[\"']?(?:[ \t]*=|[ \t]*:(?=[ \t\"']))[ \t]*"
    r"(?P<value>\"[^\"]*\"?|'[^']*'?|\$\{\{[^{}]*\}\}|\$\$?\{[^{}\s]*\}?|\{\{[^{}]*\}\}"
    r"|[^\s,;&<>'\"`()\[\]{}]+)"
)
# An HTTP authentication scheme that starts the value of an ``Authorization`` header: the
# credential is the word after it (``Authorization: Bearer s3cret``, GitHub's ``token s3cret``),
# a reference aside (``Bearer $TOKEN``, ``Bearer ${{ secrets.TOKEN }}``). The scheme stays shown.
_AUTH_SCHEMES = frozenset(("bearer", "basic", "token", "bot", "apikey", "key", "ssws", "oauth"))
_SCHEME_CREDENTIAL = re.compile(r"[ \t]+(?P<credential>\$\{\{[^{}]*\}\}|[^\s\"'`,;]+)")
# A long option named as a credential whose value is the next word (``--password s3cret``,
# ``--token "s3cret"``): not an option of its own, a redirection or the end of the command.
_OPTION_VALUE = re.compile(
    r"[ \t]+(?P<value>\"[^\"]*\"?|'[^']*'?|\$\{\{[^{}]*\}\}|[^\s\"'`;|&<>-][^\s\"'`;|&<>]*)"
)
# Options named as credentials that take no value: ``--password-stdin``, ``--with-token``,
# ``--ask-vault-pass``, ``--no-password``.
_SWITCH = re.compile(r"(?:ask|no|skip|with|use|prompt)-|.*-(?:stdin|prompt|required)$")
# A value that is code, not a secret: a call or a subscript of an attribute (Django's ``token =
# models.CharField(max_length=40)``, ``api_key = os.environ["API_KEY"]``) or a call of a
# function named in snake case (``password = get_password()``). A password may be written
# ``Summer(2024)``: a word alone before a bracket is masked.
_CODE = re.compile(r"(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+[(\[]|[a-z][a-z0-9]*(?:_[a-z0-9]+)+\()")
# What follows the name of an element: ``<password>value</password>`` or, in a file that does
# not parse, ``<password>value``.
_ELEMENT_VALUE = re.compile(r"(?:[ \t][^<>]*)?>(?P<value>[^<]+)")
# The characters of a name (``spring.datasource.password``, ``db-pass``, ``API_KEY``).
_NAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_.-")
# A setting that starts its line (a ``.env``, properties, ``flyway.conf`` or YAML line, after
# ``export`` or a list's ``-``): its unquoted value runs to the end of the line, comment aside,
# as the file's reader takes it (``API_KEY=two words``). In a ``.properties`` file a blank
# alone separates the name from the value (``db.password hunter2``), and so does a ``:`` with no
# blank after it; elsewhere that is no setting (``image:tag``).
_LINE_SETTING = re.compile(
    r"[ \t]*(?:export[ \t]+|-[ \t]+)?(?P<name>[A-Za-z_][\w.-]*)"
    r"(?P<separator>[ \t]*[=:]|[ \t]+)(?P<blank>[ \t]*)(?P<value>[^\s\"'].*)"
)
# A value that names where the secret comes from is none: ``${DB_PASSWORD}``, ``$TOKEN``,
# ``{{ .Values.token }}``, GitHub Actions' ``${{ secrets.TOKEN }}``, compose's ``$$TOKEN`` (a
# ``$`` left for the shell).
_REFERENCE = re.compile(r"\$\$?\{[\w.-]+\}|\$\$?[A-Za-z_]\w*|\$?\{\{[^{}]*\}\}")
# A YAML block scalar's header (``|``, ``>-``, ``|2+``): the value is on the lines below it.
_BLOCK_HEADER = re.compile(r"[|>][0-9+-]*")
# Values that switch something on or off: no secret (``verify_key: false``).
_NO_SECRET = frozenset(("true", "false", "yes", "no", "on", "off", "null", "none"))
# What every ``_BARE_PASSWORD`` match holds, found fast: a fix such as ``app@sha256:…`` has
# ``@`` too, and trying the whole pattern at every position of every message is slow.
_HOST_AND_PATH = re.compile(r"@[A-Za-z0-9.-]+(?::[0-9]+)?/")

# A secret this short is masked where a pattern finds it, but not sought elsewhere: masking
# every ``pw`` or ``1`` in a report would garble it for a credential that protects nothing.
_MIN_ECHOED_SECRET = 4


def _patterns_for(text: str) -> Iterator[re.Pattern[str]]:
    """The patterns that may find a credential in ``text``, by cheap tests first: a report
    has thousands of texts and nearly none holds a credential."""
    if "@" in text:
        if "://" in text:
            yield _URL_PASSWORD
        if _HOST_AND_PATH.search(text):
            yield _BARE_PASSWORD


# A table's primary key, or an Azure key (``az … keys list`` prints ``primaryKey`` and
# ``secondaryKey``; ARM's ``listKeys()``): the value tells them apart.
_PRIMARY_KEY = re.compile(r"primary[._-]?key", re.I)
# Key material: base64 of 20 characters or more with a digit, a ``+``, a ``/`` or padding
# (Azure's keys are 44 or 88), never a column's name (``customer_id``, ``OrderIdentifier``).
_KEY_MATERIAL = re.compile(r"(?=[^\s]*[0-9+/=])[A-Za-z0-9+/]{20,}={0,2}")


def _setting_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the values of the settings and elements of ``text`` whose name says they are
    credentials are (``DB_PASSWORD="x``, ``"apiKey": "x"``, ``<password>x</password>``). Found
    from the words of :data:`_SECRET_WORDS`, each name read once: linear in ``text``."""
    lowered = text.lower()
    size = len(text)
    read: set[int] = set()
    # Where a ``--password`` prompts (:func:`_prompting_commands`), found once if needed.
    prompting: list[_Span] | None = None
    for word in _SECRET_WORDS:
        at = lowered.find(word)
        while at >= 0:
            start, end = at, at + len(word)
            while start and text[start - 1] in _NAME_CHARACTERS:
                start -= 1
            while end < size and text[end] in _NAME_CHARACTERS:
                end += 1
            at = lowered.find(word, end)
            if start in read:
                continue
            read.add(start)
            name = text[start:end].lstrip("0123456789_.-")  # ``--db-password=…``
            # ``primaryKey`` names a table's key, or an Azure key: masked if key material.
            material = False
            if not SECRET_NAME.search(name):
                if not _PRIMARY_KEY.fullmatch(name):
                    continue
                material = True
            if start and text[start - 1] == "<":
                match = _ELEMENT_VALUE.match(text, end)
                if match is not None:
                    yield from _value_span(text, *match.span("value"))
                continue
            match = _SETTING_VALUE.match(text, end)
            if match is None:
                if not text.startswith("--", start) or _SWITCH.match(name):
                    continue
                if name.lower() == "password":
                    if prompting is None:
                        prompting = _prompting_commands(text)
                    if _within(prompting, start):
                        continue  # ``mysql --password db``, ``psql --password``: a prompt
                yield from _option_span(text, end)
                continue
            # A word in the value is no name (``password=password=…``): read from its end, or
            # each name would read the rest of a long line again.
            if match.end() > end:
                at = lowered.find(word, match.end())
            value = match.group("value")
            begin, finish = match.span("value")
            if value.lower() in _AUTH_SCHEMES:
                scheme = _SCHEME_CREDENTIAL.match(text, finish)
                if scheme is not None:
                    at = lowered.find(word, scheme.end())
                    yield from _value_span(text, *scheme.span("credential"))
                    continue
            if value[0] in "\"'":
                begin, finish = _unquoted(text, begin, finish)
            elif value.endswith(":"):  # the message's ("token=…: cannot be resolved")
                finish -= 1
            elif _CODE.match(text, begin):
                continue
            if material and not _KEY_MATERIAL.fullmatch(text, begin, finish):
                continue
            yield from _value_span(text, begin, finish)


def _option_span(text: str, end: int) -> Iterator[tuple[int, int]]:
    """The span of the value of the long option that ends at ``end`` (``--password s3cret``),
    unless the word after it is prose (``use --password to set it``)."""
    match = _OPTION_VALUE.match(text, end)
    if match is not None:
        begin, finish = _unquoted(text, *match.span("value"))
        if not _is_prose(text, begin, finish):
            yield from _value_span(text, begin, finish)


# The clients whose ``--password`` takes its value after ``=`` only or none, and prompts:
# MySQL's (``--password[=name]``, ``mysql --help``) and PostgreSQL's (``-W, --password  force
# password prompt``, ``psql --help``).
_PROMPTING_COMMAND = re.compile(
    r"(?<![\w.-])(?:mysql\w*|mariadb(?:-\w+)?|psql|pg_\w+|createdb|dropdb|createuser|dropuser"
    r"|vacuumdb|reindexdb|clusterdb)(?![\w.-])"
)


def _prompting_commands(text: str) -> list[_Span]:
    """The spans of ``text`` from each command of :data:`_PROMPTING_COMMAND` to its end."""
    spans: list[_Span] = []
    for command in _PROMPTING_COMMAND.finditer(text):
        if spans and command.start() < spans[-1][1]:
            continue
        spans.append((command.end(), _command_end(text, command.end())))
    return spans


def _within(spans: list[_Span], at: int) -> bool:
    """Whether ``at`` is in one of the sorted, disjoint ``spans``."""
    index = bisect.bisect_right(spans, at, key=lambda span: span[0]) - 1
    return index >= 0 and spans[index][0] <= at < spans[index][1]


def _unquoted(text: str, begin: int, finish: int) -> tuple[int, int]:
    """The span ``(begin, finish)`` of ``text`` without its quotes, if it is quoted (the closing
    quote may be missing)."""
    if text[begin : begin + 1] in ("'", '"'):
        finish -= finish - begin > 1 and text[finish - 1] == text[begin]
        begin += 1
    return begin, finish


# What tells which value a flow mapping's ``name:`` names (``{name: DB_PASSWORD, value: s3cret}``,
# in either order, JSON's ``{"name": …}``, CloudFormation's ``Name``/``Value``, HCL's
# ``{ name = …, value = … }``): its braces, each ``name`` and ``value`` key with its value, and
# the other quoted scalars, whose braces and commas are text. A key or a scalar may start a line
# (a mapping written over lines). A quote a line that does not parse leaves open runs to the end
# of the text.
_FLOW_PIECE = re.compile(
    r"(?P<brace>[{}])"
    r"|(?:(?<=[{,])|^)[ \t]*(?P<quote>[\"']?)(?P<key>(?i:name|value))(?P=quote)[ \t]*[:=][ \t]*"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"?|'(?:[^']|'')*'?"
    r"|(?:\$\{[^{}\s]*\}|\{\{[^{}]*\}\}|[^,{}\[\]])*)"
    r"|(?:(?<=[{,:\[])|^)[ \t]*(?:\"(?:[^\"\\]|\\.)*\"?|'(?:[^']|'')*'?)"
)
_Span = tuple[int, int]
Masked = tuple[int, int] | list[tuple[int, int]]
"""What a line holds of a credential's value begun above it: a span, or spans apart (the
values of a Terraform map on one line, its keys between them shown)."""
# An open flow mapping: the name its ``name`` key holds, and where its ``value`` is (the index
# of its line and its span there).
_FlowEntry = tuple[str | None, tuple[tuple[int, _Span], ...]]
# A flow scalar's end where it goes on: a flow indicator (YAML's plain scalars hold none).
_FLOW_INDICATOR = re.compile(r"[,{}\[\]]")


def _read_flow(
    text: str, number: int, mappings: list[_FlowEntry], start: int = 0, yaml: bool = False
) -> tuple[list[_FlowEntry], str | None]:
    """Read the flow pieces of ``text`` (line ``number``, from ``start``) into the ``mappings``
    open before it: the mappings it closes, and how the value it ends with goes on to the next
    line (YAML only): its quote (``value: "s3``), ``""`` for a plain scalar (``value: s3``,
    ``value:``), None if it does not."""
    closed: list[_FlowEntry] = []
    going: str | None = None
    for piece in _FLOW_PIECE.finditer(text, start):
        kind = piece.lastgroup  # None: a quoted scalar
        going = None
        if kind == "brace":
            if piece[0] == "{":
                mappings.append((None, ()))
            elif mappings:
                closed.append(mappings.pop())
        elif kind is not None and mappings:
            name, value = mappings[-1]
            if piece.group("key").lower() == "name":
                mappings[-1] = (piece.group("value"), value)
            else:
                mappings[-1] = (name, ((number, piece.span("value")),))
                if yaml and piece.end() == len(text):
                    going = _goes_on(piece.group("value"))
    return closed, going


def _goes_on(value: str) -> str | None:
    """How a YAML flow value that ends its line goes on to the next: its quote if it is not
    closed, ``""`` if it is plain; None for a closed quote."""
    if value[:1] in ("'", '"'):
        return None if _UNTIL_QUOTE[value[0]].match(value, 1) is not None else value[0]
    return ""


def _flow_entry_spans(text: str, strings: bool = True) -> Iterator[tuple[int, int]]:
    """Where the values of the flow mappings of ``text`` whose ``name:`` names a credential are
    (a Kubernetes env entry written ``{name: DB_PASSWORD, value: s3cret}``), and, when
    ``strings``, those of the mappings in its quoted strings (:func:`_string_flow_spans`)."""
    mappings: list[_FlowEntry] = []
    for name, value in [*_read_flow(text, 0, mappings)[0], *mappings]:
        if value:
            yield from _entry_value_span(text, name, value[0][1])
    if strings and ('"' in text or "'" in text):
        yield from _string_flow_spans(text)


# A quoted string that holds a flow mapping: its text between the quotes (the closing one may
# be missing), a ``\"`` or ``\'`` in it an escaped quote.
_STRING_WITH_MAPPING = re.compile(
    r"\"(?P<double>(?:[^\"\\]|\\.)*\{(?:[^\"\\]|\\.)*)\"?|'(?P<single>(?:[^'\\]|\\.)*\{[^']*)'?"
)
# An escaped quote in a string: the JSON of a Terraform ``container_definitions = "[{\"name\": …``.
_ESCAPED_QUOTE = re.compile(r"\\(?=[\"'])")


def _string_flow_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the credentials' values of the flow mappings written in the quoted strings of
    ``text`` are: a JSON document in a string (CloudFormation's or Terraform's ECS container
    definitions, ``'[{"name":"DB_PASSWORD","value":"s3cret"}]'``, its quotes escaped or not),
    a line that starts with a string (``"env: [{name: DB_PASSWORD, value: s3cret}]",`` in a
    Python file), which the flow pieces read as a scalar, its braces as text."""
    for quoted in _STRING_WITH_MAPPING.finditer(text):
        group = "double" if quoted.group("double") is not None else "single"
        begin = quoted.start(group)
        inner = quoted.group(group)
        if not names_a_secret(inner):
            continue
        # The string's text with its escaping backslashes dropped, and where each of its
        # characters is in ``text``.
        kept = [0, *(match.end() for match in _ESCAPED_QUOTE.finditer(inner))]
        ends = [match.start() for match in _ESCAPED_QUOTE.finditer(inner)] + [len(inner)]
        plain = "".join(inner[start:end] for start, end in zip(kept, ends, strict=True))
        where = [
            begin + index
            for start, end in zip(kept, ends, strict=True)
            for index in range(start, end)
        ]
        for start, end in _flow_entry_spans(plain, strings=False):
            yield where[start], where[end - 1] + 1


def _entry_value_span(
    text: str, name: str | None, value: tuple[int, int] | None
) -> Iterator[tuple[int, int]]:
    """The span ``value`` of a flow mapping, its quotes aside, if ``name`` names a credential."""
    if name is None or value is None or not SECRET_NAME.search(name.strip().strip("\"'")):
        return
    yield from _value_span(text, *_unquoted(text, *value))


def _value_span(text: str, start: int, end: int, switch: bool = True) -> Iterator[tuple[int, int]]:
    """``(start, end)`` without its surrounding blanks, unless it holds no secret: nothing, a
    mask, a reference to where the secret comes from (``${DB_PASSWORD}``), or (``switch``:
    the value of a setting) a word that switches something on or off (``verify_key: false``).
    """
    value = text[start:end]
    stripped = value.strip()
    if (
        stripped
        and stripped != MASK
        and not _BLOCK_HEADER.fullmatch(stripped)
        and not (switch and stripped.lower() in _NO_SECRET)
        and not _REFERENCE.fullmatch(stripped)
    ):
        start += len(value) - len(value.lstrip())
        yield start, start + len(stripped)


# The rest of a quoted value, to its closing quote: ``\"`` is a quote in a double-quoted value
# (YAML, ``.env``), ``''`` in a YAML single-quoted one, ``\'`` in a ``.env`` single-quoted one
# (compose-go's dotenv reads a backslash in both quotes).
_UNTIL_QUOTE = {
    '"': re.compile(r'(?:[^"\\]|\\.)*(?=")'),
    "'": re.compile(r"(?:[^']|'')*(?='(?!'))"),
}
_UNTIL_ENV_QUOTE = {**_UNTIL_QUOTE, "'": re.compile(r"(?:[^'\\]|\\.)*(?=')")}
# A ``.env`` line as compose reads it (compose-go's ``dotenv``): the key runs to the first
# ``=`` or ``:``, an ``export`` before it and blanks around it dropped. A key compose refuses
# (``API KEY``, ``API_KEY!``) is read the same: BK901 quotes its line.
_DOTENV_SETTING = re.compile(
    r"[ \t]*(?:export[ \t]+)?(?P<name>[^=:\"'#\s][^=:\"'#]*?)[ \t]*[=:][ \t]*(?P<value>.*)"
)


def is_dotenv(path: str) -> bool:
    """Whether the file at ``path`` is a ``.env`` file (``.env``, ``.env.prod``, ``app.env``)."""
    base = path.rpartition("/")[2]
    return base == ".env" or base.startswith(".env.") or base.endswith(".env")


def _dotenv_setting_span(line: str) -> Iterator[tuple[int, int]]:
    """Where the value of the credential that the ``.env`` ``line`` sets is, as compose reads
    it: unquoted, to the end of the line but a `` #`` comment (``API_KEY=two words # x``);
    quoted, to the closing quote (``\"`` is none) or the end of the line."""
    match = _DOTENV_SETTING.match(line)
    if match is None or not SECRET_NAME.search(re.sub(r"\s+", "_", match.group("name"))):
        return
    start = match.start("value")
    value = match.group("value")
    if value[:1] in ("'", '"'):
        closing = _UNTIL_ENV_QUOTE[value[0]].match(value, 1)
        yield from _value_span(line, start + 1, start + (closing.end() if closing else len(value)))
    else:
        yield from _value_span(line, start, start + len(value.split(" #", 1)[0]))


def _line_setting_span(line: str, properties: bool) -> Iterator[tuple[int, int]]:
    """Where the unquoted value of the credential setting that starts ``line`` is, to the end
    of the line and before a `` #`` comment; a blank separates a name only in ``properties``."""
    match = _LINE_SETTING.match(line)
    if match is None or not SECRET_NAME.search(match.group("name")):
        return
    separator = match.group("separator").strip()
    if not properties and (not separator or (separator == ":" and not match.group("blank"))):
        return
    start = match.start("value")
    if _CODE.match(line, start):
        return
    value = match.group("value").split(" #", 1)[0]
    if separator == "=" and not properties and not match.group("blank"):
        # A shell line: ``PGPASSWORD=s3cret psql …`` sets it for the command after the blank.
        word = _SHELL_WORD.match(value)
        if word is not None and _runs_command(value, word.end()):
            value = word.group()
    yield from _value_span(line, start, start + len(value))


# A shell word with no quote, and the blanks after it.
_SHELL_WORD = re.compile(r"[^\s\"'`]+(?=[ \t]+\S)")
# Another variable set for the command (``PGUSER=app``).
_ASSIGNMENT = re.compile(r"[ \t]+[A-Za-z_]\w*=")


def _runs_command(value: str, end: int) -> bool:
    """Whether what follows the word that ends at ``end`` of ``value`` is the command it is set
    for: a client of :data:`_PROMPTING_COMMAND` or :data:`_PASSWORD_COMMAND`, or another
    variable set for it (an ``.env`` value of two words, ``API_KEY=two words``, is none)."""
    after = value[end:].lstrip(" \t")
    return (
        _ASSIGNMENT.match(value, end) is not None
        or _PROMPTING_COMMAND.match(after) is not None
        or _PASSWORD_COMMAND.match(after) is not None
    )


def _secret_spans(text: str, named: bool = True) -> list[tuple[int, int]]:
    """Where the credentials in ``text`` are: sorted, non-overlapping ``(start, end)``. Settings
    named as credentials are sought only when ``named`` (a caller that searched all its texts
    at once for :data:`SECRET_NAME` and found none passes ``False``)."""
    found = list(_command_spans(text)) if _may_hold_command(text) else []
    if "ookie" in text or "OOKIE" in text:
        found += _header_cookie_spans(text)
    if not named and "@" not in text and "=" not in text:
        return _merged(found, text) if found else []
    found += [
        match.span("secret")
        for pattern in _patterns_for(text)
        for match in pattern.finditer(text)
        if match.group("secret") != MASK
    ]
    if named and names_a_secret(text):
        found += _setting_spans(text)
        if "{" in text:
            found += _flow_entry_spans(text)
    return _merged(found, text)


# The commands whose options take a password as a letter of their own, as a word of their own
# or ending a path (``/usr/bin/mysql``): MySQL's clients (``-p`` with the password glued:
# ``mysql -p db`` prompts for it and names a database), a registry's ``login``, ``sshpass`` and
# MongoDB's shell (``-p`` glued or the next word), ``redis-cli`` (``-a``), ``curl`` (``-u``,
# ``--user``, ``-U`` or ``--proxy-user`` with ``user:password``; ``-b`` or ``--cookie`` with
# cookies), Samba's clients (``-U`` or ``--user`` with ``user%password``). Elsewhere ``-p`` is
# a port or a switch (``docker run -p 8080:80``, ``mkdir -p``).
_PASSWORD_COMMAND = re.compile(
    r"(?<![\w.-])(?:(?P<mysql>mysql\w*|mariadb(?:-\w+)?)|(?P<login>login|sshpass|mongo|mongosh)"
    r"|(?P<redis>redis-cli)|(?P<curl>curl)"
    r"|(?P<samba>smbclient|rpcclient|smbcacls|smbcquotas|smbtree|smbget|smbpasswd|samba-tool|net))"
    r"(?![\w.-])"
)
# The words of :data:`_PASSWORD_COMMAND`, sought with ``in`` first: the pattern tries its
# alternatives at every character, and a report has thousands of texts with none of them.
_COMMAND_WORDS = (
    "mysql",
    "mariadb",
    "login",
    "sshpass",
    "mongo",
    "redis-cli",
    "curl",
    "smb",
    "rpcclient",
    "samba-tool",
    "net ",
)


def _may_hold_command(text: str) -> bool:
    """Whether ``text`` may hold a password :func:`_command_spans` finds, told in C."""
    return ("-p" in text or "-a" in text or "-u" in text or "-U" in text or "curl" in text) and any(
        word in text for word in _COMMAND_WORDS
    )


# Where a command ends, its options read to there: a ``;``, ``|``, ``&`` or line break out of
# quotes (``-b "a=1; b=2"`` is one word); a quote that is not closed on its line is none.
_COMMAND_END = re.compile(r"[;|&\n\"']")
_CLOSING_QUOTE = {'"': re.compile(r'(?:[^"\\\n]|\\.)*"'), "'": re.compile(r"[^'\n]*'")}


def _command_end(text: str, at: int) -> int:
    """Where the command that goes on at ``at`` of ``text`` ends (its length: at its end)."""
    while (match := _COMMAND_END.search(text, at)) is not None:
        closing = _CLOSING_QUOTE.get(match.group())
        if closing is None:
            return match.start()
        quoted = closing.match(text, match.end())
        at = match.end() if quoted is None else quoted.end()
    return len(text)


# A short option (or a long one) and its value, glued or the next word; curl's short options
# may be grouped (``-fsSLu``), the last of the ``group`` taking the value.
_PASSWORD_OPTION = re.compile(
    r"(?<![^\s\"'])-(?P<group>[A-Za-z0-9#:]*?)(?P<flag>[pauUb]|-user|-proxy-user|-cookie)"
    r"(?P<blank>[ \t]+|=)?"
    r"(?P<value>\"[^\"]*\"?|'[^']*'?|\$\{\{[^{}]*\}\}"
    r"|[^\s\"'`;|&<>]+(?:(?<=[:%])(?:\"[^\"\n]*\"|'[^'\n]*'))?)"
)
# The options each command takes a password with, and what is before it in the value (curl's
# ``user:password``, Samba's ``user%password``; ``""``: the whole value).
_PASSWORD_FLAGS: dict[str, dict[str, str]] = {
    "mysql": {"p": ""},
    "login": {"p": ""},
    "redis": {"a": ""},
    "curl": {"u": ":", "-user": ":", "U": ":", "-proxy-user": ":", "b": "=", "-cookie": "="},
    "samba": {"U": "%", "-user": "%"},
}
# curl's short options that take no value, which a group may hold before the one that does
# (``curl --help all``): any other letter takes the rest of the group as its value.
_CURL_SWITCHES = frozenset("aqfGgI0ik46jlLMn:NZ#pJORSs231BvV")
# Words of prose, not values: a runbook's or a comment's ``use --password to set it``, ``the
# --token option``, ``sshpass -p or -f``. No password is one of them.
_PROSE_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "and",
        "or",
        "nor",
        "but",
        "is",
        "are",
        "be",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "with",
        "without",
        "when",
        "if",
        "then",
        "than",
        "that",
        "this",
        "which",
        "it",
        "its",
        "instead",
        "also",
        "only",
        "not",
        "must",
        "may",
        "can",
        "will",
        "should",
        "see",
        "here",
        "below",
        "above",
        "option",
        "options",
        "flag",
        "flags",
        "argument",
        "arguments",
        "switch",
        "parameter",
        "parameters",
        "value",
    ]
)


def _is_prose(text: str, begin: int, finish: int) -> bool:
    """Whether the word ``text[begin:finish]`` after an option is prose, not its value."""
    return text[begin:finish].rstrip(".,:").lower() in _PROSE_WORDS


def _command_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the passwords that the commands of :data:`_PASSWORD_COMMAND` in ``text`` are given
    as options are (``mysql -ps3cret``, ``docker login -p s3cret``, ``curl -u ci:s3cret``,
    ``smbclient -U ci%s3cret``), and the values of the cookies curl is given (``-b sid=s3cret``),
    a reference aside (``-p $PASSWORD``). Each command is read once, to its end."""
    at = 0
    while (command := _PASSWORD_COMMAND.search(text, at)) is not None:
        kind = command.lastgroup or ""
        flags = _PASSWORD_FLAGS[kind]
        at = _command_end(text, command.end())
        for option in _PASSWORD_OPTION.finditer(text, command.end(), at):
            flag = option.group("flag")
            before = flags.get(flag)
            group = option.group("group")
            if before is None or (
                group and (kind != "curl" or not _CURL_SWITCHES.issuperset(group))
            ):
                continue  # not its password, or a letter of the group takes the rest
            if kind == "mysql" and option.group("blank"):
                continue  # ``-p db``: a prompt, and the database's name
            if option.group("value")[0] == "-":
                continue  # another option
            begin, finish = _unquoted(text, *option.span("value"))
            if option.group("blank") and _is_prose(text, begin, finish):
                continue
            if before == "=":
                yield from _cookie_spans(text, begin, finish)
                continue
            if before:
                separator = text.find(before, begin, finish)
                if separator < 0:
                    continue  # a user alone: the command prompts for the password
                # The password may be quoted after the user (``-u ci:"s3cret"``).
                begin, finish = _unquoted(text, separator + 1, finish)
            # A password option's value is a password, ``true`` too (``mysql -ptrue``).
            yield from _value_span(text, begin, finish, switch=False)


# A cookie of a ``Cookie`` header or curl's ``-b``: its name and its value, to the next ``;``.
_COOKIE = re.compile(r"[ \t]*(?P<name>[^=;\s\"'`]+)=(?P<value>[^;\"'`]*)(?:;|$)")
# A ``Cookie:`` or ``Set-Cookie:`` header (``-H "Cookie: sid=…"``, ``--header=…``).
_COOKIE_HEADER = re.compile(r"(?<![\w-])(?P<set>set-)?cookie[ \t]*:[ \t]*", re.I)
# The end of a header's value: the quote or the blank that ends the word it is in.
_HEADER_END = re.compile(r"[\"'`\n]")


def _cookie_spans(text: str, begin: int, finish: int, first: bool = False) -> Iterator[_Span]:
    """The values of the cookies ``name=value; …`` in ``text[begin:finish]`` (only the
    ``first``: a ``Set-Cookie``'s, whose attributes follow), a value with none (``-b
    cookies.txt`` reads a file) aside."""
    at = begin
    while at < finish:
        cookie = _COOKIE.match(text[:finish], at)
        if cookie is None:
            return
        yield from _value_span(text, *cookie.span("value"))
        if first:
            return
        at = cookie.end()


def _header_cookie_spans(text: str) -> Iterator[_Span]:
    """The values of the cookies of the ``Cookie:`` and ``Set-Cookie:`` headers in ``text``."""
    for header in _COOKIE_HEADER.finditer(text):
        end = _HEADER_END.search(text, header.end())
        finish = len(text) if end is None else end.start()
        yield from _cookie_spans(text, header.end(), finish, first=bool(header.group("set")))


def _merged(found: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """``found`` and the secret query parameters of ``text``, sorted and merged."""
    if "=" in text and ("?" in text or "&" in text):
        for match in _QUERY_PARAMETER.finditer(text):
            value = match.group("secret")
            if value != MASK and SECRET_NAME.search(match.group("name")):
                # A ":" that ends it is the message's ("?token=…: cannot be resolved").
                start, end = match.span("secret")
                found.append((start, end - 1 if value.endswith(":") else end))
    spans = sorted(found)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def holds_credential(text: str) -> bool:
    """Whether ``text`` holds what a report would mask: a URL's or a reference's password, a
    secret query parameter. Readers use it to keep such a value out of their facts."""
    return bool(_secret_spans(text))


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span replaced by :data:`MASK`."""
    parts = []
    last = 0
    for start, end in spans:
        parts += [text[last:start], MASK]
        last = end
    parts.append(text[last:])
    return "".join(parts)


class Redactor:
    """Masks the credentials of one report: those its patterns find in a text, and every other
    occurrence of a secret learned from the texts it was given."""

    def __init__(
        self, texts: Iterable[str] = (), secrets: Iterable[str] = (), settings: bool = True
    ) -> None:
        """Learn the credentials in ``texts``; ``secrets`` are credentials known as such (a
        Flyway placeholder's value read from the environment), masked wherever they appear.
        Without ``settings`` a value after a credential's name is no secret: texts that quote
        no settings but prose (a pod's ``failed to authorize: failed to fetch oauth token``)."""
        # Findings of one rule repeat their fix word for word: each text is searched once. The
        # names of credentials are sought in them all at once: most reports have none.
        unique = set(texts)
        self._settings = settings
        named = settings and names_a_secret("\n".join(unique))
        found = {text[start:end] for text in unique for start, end in _secret_spans(text, named)}
        found.update(secret for secret in secrets if secret)
        # Whether any of the texts learned from holds a credential.
        self.found = bool(found)
        secrets = {secret for secret in found if len(secret) >= _MIN_ECHOED_SECRET}
        # Longest first, so that a secret holding another is masked whole.
        alternatives = "|".join(map(re.escape, sorted(secrets, key=len, reverse=True)))
        self._echoes = (
            re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])") if secrets else None
        )
        # Findings of one rule repeat their fix word for word: each text is masked once.
        self._done: dict[str, str] = {}

    def redact(self, text: str) -> str:
        """``text`` with its credentials masked."""
        masked = self._done.get(text)
        if masked is None:
            spans = _secret_spans(text, self._settings)
            masked = _masked(text, spans) if spans else text
            if self._echoes is not None:
                masked = self._echoes.sub(MASK, masked)
            self._done[text] = masked
        return masked

    def redact_data(self, value: Any) -> Any:
        """A copy of the JSON-like ``value`` (dicts, lists, strings) with every string masked."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_data(item) for item in value]
        return value


def strings_in(value: Any) -> Iterator[str]:
    """Every string in the JSON-like ``value``, for a :class:`Redactor` to learn from."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def redact_line(
    line: str, column: int, path: str = "", continued: Masked | None = None
) -> tuple[str, int]:
    """A source line of the file at ``path`` with its credentials masked, and where the
    1-based ``column`` (0: unknown) of ``line`` is in it, so that a caret still points at the
    same character (at the mask's start when the column is inside a secret). A line that sets a
    credential (``API_KEY=…``, ``password: …``, ``db.password …`` in a ``.properties`` file)
    has its value masked to the end of the line, the line parsed or not; ``continued`` is the
    span of a credential's value begun on a line above (:func:`continued_secret_spans`)."""
    named = names_a_secret(line)
    spans = _secret_spans(line, named)
    if named:
        if is_dotenv(path):
            spans = [*spans, *_dotenv_setting_span(line)]
        elif path.endswith(_HCL_SUFFIXES):
            # HCL quotes a literal: a bare value is a reference (``password = var.db_password``),
            # a heredoc, a map or a list is read over its lines (:func:`continued_secret_spans`).
            spans = [
                piece
                for span in spans
                for piece in (
                    _hcl_call_literals(line, span) if _hcl_reference(line, span) else [span]
                )
            ]
            if _DYNAMODB_KEY.match(line):
                spans = []  # ``aws_dynamodb_table``'s partition key: a column
        else:
            spans = [*spans, *_line_setting_span(line, path.endswith(".properties"))]
    if continued is not None:
        spans += _spans_of(continued)
    if len(spans) > 1:
        spans = _merged(spans, "")
    if not spans:
        return line, column
    return _masked(line, spans), _moved_column(column, spans)


def _hcl_call_literals(line: str, span: _Span) -> list[_Span]:
    """The quoted literals among the arguments of the HCL call that ``span`` of ``line`` names
    (``lower("s3cret")``, ``coalesce(var.pw, "s3cret")``); none for a reference."""
    if not line[span[1] :].lstrip().startswith("("):
        return []
    return [
        (literal.start() + 1, literal.end() - 1)
        for literal in _HCL_STRING.finditer(line, span[1])
        if literal.end() - literal.start() > 2
    ]


# A quoted HCL string on one line.
_HCL_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
# DynamoDB's partition key as Terraform's ``aws_dynamodb_table`` names it (``hash_key =
# "UserId"``, beside ``range_key``): an attribute's name, where ``ECPAY_HASH_KEY`` is a key.
_DYNAMODB_KEY = re.compile(r"[ \t]*hash_key[ \t]*=[ \t]*\"[^\"$]*\"[ \t]*(?:#.*)?$")


def _hcl_reference(line: str, span: _Span) -> bool:
    """Whether ``span`` of the HCL ``line`` is an attribute's bare value that is no literal: a
    reference or a call (``password = var.db_password``, ``random_password.db.result``)."""
    start, end = span
    return (
        line[:start].rstrip().endswith("=")
        and _HCL_REFERENCE.match(line, start) is not None
        and '"' not in line[start:end]
    )


# A YAML mapping key that starts its line, after a list's ``-`` (``password: |``, ``- token:``):
# its column and the rest of the line.
_YAML_KEY = re.compile(
    r"[ \t]*(?:-[ \t]+)*(?P<name>[A-Za-z_][\w.-]*|\"[^\"\n]*\"|'[^'\n]*')[ \t]*:(?:[ \t]+|$)"
    r"(?P<rest>.*)"
)
# What may come before a YAML value: a tag and an anchor (``!!binary |``, ``&pw |``).
_YAML_PROPERTIES = re.compile(r"^(?:[!&][^\s]*[ \t]+)*")
# A ``.env``, ``.properties`` or ``flyway.conf`` setting that starts its line.
_LINE_KEY = re.compile(
    r"[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][\w.\-\[\]]*)[ \t]*[=:][ \t]*(?P<rest>.*)"
)
# A JSON key whose value is on a line below it (``"DB_PASSWORD":`` then ``"s3cret"``).
_JSON_KEY = re.compile(r"[ \t]*\"(?P<name>[^\"]+)\"[ \t]*:[ \t]*")
# An element whose text the line does not close (``<password>``, ``<password>s3``): the last on
# the line, not empty (``<password/>``).
_OPEN_ELEMENT = re.compile(r"<(?P<name>[\w.:-]+)(?:[ \t][^<>]*)?(?<!/)>(?P<text>[^<]*)$")


# The blanks and list markers that start a line (``  - ``).
_LIST_ITEM = re.compile(r"^[ \t]*(?:-[ \t]+)*")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class _Continuation:
    """Where a credential's value goes on past the line of its name, as the scan of
    :func:`continued_secret_spans` has found it. ``kind`` is one of:

    * ``block``: every line more indented than ``indent`` (a YAML block scalar, a plain scalar
      continued, a value on the lines below its key), and the items of a list at ``indent``
      when ``list``;
    * ``below``: the lines below a YAML key with no value, which are its value unless they are
      keys themselves (``password:`` then ``s3cret``, not ``credentials:`` then ``user: x``);
    * ``quote``: the lines to the closing ``end`` quote;
    * ``element``: the lines to the next tag (``<password>``, ``s3cret``, ``</password>``);
    * ``next``: the next line that is not blank (a JSON value below its key);
    * ``backslash``: the next line (a ``.properties`` line ending in ``\\``);
    * ``entry``: the ``value:`` beside a ``name:`` that names a credential (a Kubernetes env
      entry, ``- name: DB_PASSWORD`` then ``value: s3cret``), a key at ``indent``;
    * ``children``: the keys of the mapping below a credential's name, more indented than
      ``indent``, whose ``value:`` is the credential (GitLab CI's ``variables: DB_PASSWORD:``
      then ``value: s3cret`` and ``description:``).
    """

    def __init__(
        self,
        kind: str,
        indent: int = 0,
        end: re.Pattern[str] | None = None,
        items: bool = False,
    ) -> None:
        self.kind = kind
        self.indent = indent
        self.end = end
        self.list = items


def _text_span(line: str, end: int | None = None) -> tuple[int, int] | None:
    """The span of ``line`` (to ``end``) without its blanks and a list's ``-``, if not empty."""
    stop = len(line.rstrip()) if end is None else len(line[:end].rstrip())
    start = len(line) - len(_LIST_ITEM.sub("", line, count=1))
    return (start, stop) if start < stop else None


# The words of :data:`_SECRET_WORDS`, and ``value``, sought in a lower-cased text.
_SECRET_WORD = re.compile("|".join(_SECRET_WORDS))
_VALUE_WORD = re.compile("value")


def _lines_with(text: str, pattern: re.Pattern[str]) -> set[int]:
    """The 0-based numbers of the lines of ``text`` (``\\n`` ends one) where ``pattern`` is."""
    numbers: set[int] = set()
    number = last = 0
    for match in pattern.finditer(text):
        number += text.count("\n", last, match.start())
        last = match.start()
        numbers.add(number)
    return numbers


def continued_secret_spans(lines: list[str], path: str) -> dict[int, Masked]:
    """Where in ``lines`` (the file at ``path``) the value of a credential goes on past the line
    of its name, by 0-based line: a YAML block scalar (``password: |``), a plain or quoted
    value continued, a value on the line below its key, an element's text on its own lines
    (``<password>``, ``s3cret``, ``</password>``), a ``.properties`` line continued with ``\\``.

    :func:`redact_line` masks a line alone; this is what it needs to know of the lines above.
    Read forward once, with the indentation and the quotes of the lines, not parsed: the file
    may not parse (BK901 quotes the line that does not)."""
    lowered = path.lower()
    yaml = lowered.endswith((".yaml", ".yml"))
    properties = lowered.endswith((".properties", ".conf"))
    flows = yaml or lowered.endswith(_FLOW_SUFFIXES)
    # The lines :func:`names_a_secret` takes, and those with a ``value``, found in the whole
    # text at once: line by line took most of the time on a large file.
    text = "\n".join(lines).lower()
    if text.count("\n") == len(lines) - 1:
        named = _lines_with(text, _SECRET_WORD)
        valued = _lines_with(text, _VALUE_WORD) if flows else set()
    else:  # a line that holds a line break: each line alone
        named = {index for index, line in enumerate(lines) if names_a_secret(line)}
        valued = {index for index, line in enumerate(lines) if flows and "value" in line.lower()}
    found: dict[int, Masked] = {}
    if lowered.endswith(_HCL_SUFFIXES):
        if "variable" in text or "output" in text:
            _variable_defaults(lines, found)
        if named:
            _named_attributes(lines, named, found)
    if "\\\n" in text:
        _continued_commands(lines, found)
    if not named:
        return found
    going: _Continuation | None = None
    # The last line with a YAML ``value:`` key at each column: an entry may name its credential
    # below its value (``- value: s3cret`` then ``name: DB_PASSWORD``).
    values: dict[int, int] = {}
    # The parent key last found for a key at each column (:func:`_parent_key`).
    parents: dict[int, _Parent] = {}
    if flows and any("name" in lines[index].lower() for index in named):
        _flow_spans(lines, text, named, valued, yaml, found)
    for index, line in enumerate(lines):
        if going is not None:
            going, held = _went_on(line, index, going, found)
            if held:
                continue
        if yaml and index in valued:
            key = _YAML_KEY.match(line)
            if key is not None and key.group("name").lower() == "value":
                values[key.start("name")] = index
        if index in named:
            going = _opened(line, yaml, properties)
            if going is None and yaml and ("rimary" in line or "RIMARY" in line):
                going = _encryption_key(lines, index, found, parents)
            if going is not None and going.kind == "entry" and going.indent in values:
                above = _value_above(lines, values.pop(going.indent), index, going.indent)
                for number, span in above.items():
                    _add_span(found, number, span)
    return found


def _continued_commands(lines: list[str], found: dict[int, Masked]) -> None:
    """Put in ``found`` the credentials of the shell commands that go on over lines ending in
    ``\\`` (``mysql -u root \\`` then ``-ps3cret db``; ``--password \\`` then ``s3cret``): each
    such command is read as one line, its spans put back on the lines they are on."""
    index = 0
    while index < len(lines):
        last = index
        while last < len(lines) - 1 and _continues(lines[last]):
            last += 1
        if last > index:
            starts: list[int] = []
            pieces: list[str] = []
            at = 0
            for line in lines[index : last + 1]:
                starts.append(at)
                piece = line[:-1] + " " if _continues(line) else line
                pieces.append(piece)
                at += len(piece)
            joined = "".join(pieces)
            spans = _secret_spans(joined) if names_a_secret(joined) else []
            if _may_hold_command(joined):
                spans += _command_spans(joined)
            for begin, finish in spans:
                for offset, (start, piece) in enumerate(zip(starts, pieces, strict=True)):
                    low, high = max(begin, start), min(finish, start + len(piece))
                    if low < high:
                        _add_span(found, index + offset, (low - start, high - start), apart=True)
        index = last + 1


def _continues(line: str) -> bool:
    """Whether ``line`` ends in an unescaped ``\\``: the command goes on on the next line."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


# A Terraform ``variable`` or ``output`` block's opening line, its name in the label; the
# attribute of each that holds its value (``default``, ``value``); ``sensitive = true``.
_TF_BLOCK = re.compile(r"[ \t]*(?P<kind>variable|output)[ \t]+\"?(?P<name>[\w-]+)\"?[ \t]*\{")
_TF_VALUE = {
    kind: re.compile(rf"(?:^|[{{;][ \t]*)[ \t]*{word}[ \t]*=[ \t]*(?P<value>.*)")
    for kind, word in (("variable", "default"), ("output", "value"))
}
_TF_SENSITIVE = re.compile(r"(?:^|[{;,][ \t]*)[ \t]*sensitive[ \t]*=[ \t]*true\b")
# An attribute whose value is a heredoc, a map or a list (``tls_key = <<-EOT``, ``api_keys =
# [``): one named as a credential has it masked wherever it is (``locals``, a resource).
_TF_ATTRIBUTE = re.compile(
    r"[ \t]*(?P<name>[A-Za-z_][\w-]*|\"[^\"\n]+\")[ \t]*[=:][ \t]*(?=<<|[\[{])"
)
# A plain value: a number, a reference (``var.x``), to a comma or a brace.
_TF_WORD = re.compile(r"[^\s,}\]]*")
# A heredoc's opening (``<<EOT``, ``<<-EOT``): its lines to the marker are the value.
_TF_HEREDOC = re.compile(r"<<-?[ \t]*(?P<marker>\w+)[ \t]*$")
# The pieces of a map or a list: strings, comments, brackets and separators, other words.
_HCL_TOKEN = re.compile(r"\"(?:[^\"\\]|\\.)*\"?|#.*|//.*|[{}\[\]()=:,]|[^\s{}\[\]()=:,\"#/]+|/")
# A word in HCL that starts with a letter is no literal but a keyword, a reference or a call
# (``true``, ``var.db_password``, ``random_password.api.result``, ``file(…)``): a string is
# quoted, a number starts with a digit.
# What starts an HCL reference or call (``var.db_password``, ``random_password.db.result``,
# ``local.keys[0]``, ``lookup(...)``): a bare word is none (HCL has no bare strings), so that
# ``export DB_PASSWORD=s3cret`` in a heredoc is a value, and a call that holds a quoted literal
# (``lower("s3cret")``) is masked.
_HCL_REFERENCE = re.compile(r"[A-Za-z_][\w-]*[ \t]*[.\[(]")
# A number literal.
_HCL_LITERAL_WORD = re.compile(r"[-+.]?[0-9]")
# An HCL path: a literal string is quoted, a bare value is a reference.
_HCL_SUFFIXES = (".tf", ".tfvars", ".hcl")


def _variable_defaults(lines: list[str], found: dict[int, Masked]) -> None:
    """Put in ``found`` the ``default`` of each Terraform ``variable`` block and the ``value``
    of each ``output`` block named as a credential (``variable "db_password" {`` then
    ``default = "s3cret"``) or marked ``sensitive = true``, which Terraform itself never
    prints: a quoted or plain value, a map's or a list's values, a heredoc's lines. A reference
    (``value = aws_db_instance.shop.password``) stays shown. The blocks are told by their
    braces, a line at a time."""
    index = 0
    while index < len(lines):
        line = lines[index]
        opened = _TF_BLOCK.match(line) if "variable" in line or "output" in line else None
        index += 1
        if opened is None:
            continue
        secret = bool(SECRET_NAME.search(opened.group("name")))
        attribute = _TF_VALUE[opened.group("kind")]
        word = "default" if opened.group("kind") == "variable" else "value"
        spans: dict[int, Masked] = {}
        number, offset, depth = index - 1, opened.end(), 1
        while number < len(lines):
            rest = lines[number][offset:]
            secret = secret or bool(_TF_SENSITIVE.search(rest))
            value = attribute.search(rest) if depth == 1 and word in rest else None
            if value is not None and value.group("value").strip():
                depth += rest[: value.start("value")].count("{")
                depth -= rest[: value.start("value")].count("}")
                number, offset = _hcl_value_spans(
                    lines, number, offset + value.start("value"), spans
                )
                continue
            depth += rest.count("{") - rest.count("}")
            number, offset = number + 1, 0
            if depth <= 0 or number >= len(lines):
                break
        index = max(index, number)
        if secret:
            for line_number, span in spans.items():
                _add_span(found, line_number, span, apart=True)


def _named_attributes(lines: list[str], named: set[int], found: dict[int, Masked]) -> None:
    """Put in ``found`` the values of the attributes of lines ``named`` that are named as a
    credential and hold a heredoc, a map or a list (``tls_key = <<-EOT``, ``api_keys = [``)."""
    for index in sorted(named):
        attribute = _TF_ATTRIBUTE.match(lines[index])
        if attribute is not None and SECRET_NAME.search(attribute.group("name").strip('"')):
            spans: dict[int, Masked] = {}
            _hcl_value_spans(lines, index, attribute.end(), spans)
            for line_number, span in spans.items():
                _add_span(found, line_number, span, apart=True)


def _hcl_value_spans(
    lines: list[str], number: int, start: int, spans: dict[int, Masked]
) -> tuple[int, int]:
    """Put in ``spans`` the value at ``start`` of line ``number``: the line and the column
    where it ends are returned (a heredoc's at its marker, a map's at its closing brace)."""
    line = lines[number]
    value = line[start:].split(" #", 1)[0].rstrip()
    heredoc = _TF_HEREDOC.search(value)
    if heredoc is not None:
        marker = heredoc.group("marker")
        index = number + 1
        while index < len(lines) and lines[index].strip() != marker:
            span = _text_span(lines[index])
            if span is not None:
                spans[index] = span
            index += 1
        return (index, len(lines[index])) if index < len(lines) else (index, 0)
    if value[:1] in ("{", "["):
        return _collection_spans(lines, number, start, spans)
    if value[:1] == '"':
        closing = _UNTIL_QUOTE['"'].match(value, 1)
        end = start + (closing.end() + 1 if closing is not None else len(value))
        found = next(_value_span(line, start + 1, end - (closing is not None)), None)
    else:
        word = _TF_WORD.match(value)
        end = start + (word.end() if word else 0)
        literal = _HCL_LITERAL_WORD.match(line, start) is not None
        found = next(_value_span(line, start, end), None) if literal else None
    if found is not None:
        spans[number] = found
    return number, max(end, start + 1)


def _collection_spans(
    lines: list[str], number: int, start: int, spans: dict[int, Masked]
) -> tuple[int, int]:
    """Put in ``spans`` the values of the HCL map or list that opens at ``start`` of line
    ``number``: its strings and numbers, not its keys (a piece before ``=`` or ``:``), nor a
    call's arguments; the line and the column after its closing bracket are returned."""
    depth = parens = 0
    index, at = number, start
    while index < len(lines):
        line = lines[index]
        pending: _Span | None = None  # a value, unless ``=`` or ``:`` follows it
        for token in _HCL_TOKEN.finditer(line, at):
            piece = token.group()
            if piece in ("=", ":", "("):
                pending = None  # a key, or a function's name
                parens += piece == "("
                continue
            if pending is not None:
                _add_span(spans, index, pending, apart=True)
                pending = None
            if piece[0] == "#" or piece.startswith("//"):
                break
            if piece in ("{", "["):
                depth += 1
            elif piece in ("}", "]"):
                depth -= 1
                if depth <= 0:
                    return index, token.end()
            elif piece == ")":
                parens -= 1
            elif parens > 0 or piece == ",":
                continue
            elif piece[0] == '"':
                pending = next(_value_span(line, *_unquoted(line, *token.span())), None)
            elif _HCL_LITERAL_WORD.match(piece):
                pending = token.span()
        if pending is not None:
            _add_span(spans, index, pending, apart=True)
        index, at = index + 1, 0
    return index, 0


def _flow_spans(
    lines: list[str],
    text: str,
    named: set[int],
    valued: set[int],
    yaml: bool,
    found: dict[int, Masked],
) -> None:
    """Put in ``found`` the values of the flow mappings over lines (``{name: DB_PASSWORD,`` then
    ``value: s3cret}``) whose ``name`` names a credential. ``text`` is ``lines`` joined;
    ``named`` and ``valued`` are the lines with a credential's word and with a ``value``.

    Only the lines with a ``{`` are read, found in ``text`` in C, and while a mapping is open
    the lines that may close one or hold a name or a value: a YAML file has few, and most lines
    of a JSON file hold none of those."""
    flow = _Flow(lines, found, yaml)
    joined = text.count("\n") == len(lines) - 1
    index = offset = 0  # the line read next, and where it starts in ``text``
    while index < len(lines):
        if joined:  # the next line with a ``{``
            at = text.find("{", offset)
            if at < 0:
                break
            index += text.count("\n", offset, at)
            offset = text.rfind("\n", 0, at) + 1
        elif "{" not in lines[index]:
            index += 1
            continue
        line = lines[index]
        if line.count("{") <= line.count("}"):  # its mappings close on it: redact_line's
            offset += len(line) + 1
            index += 1
            continue
        while True:
            keyed = index in named or index in valued
            line = lines[index]
            if keyed or "{" in line or "}" in line or flow.going is not None:
                flow.read(index, keyed)
            offset += len(line) + 1
            index += 1
            if not flow.mappings or index == len(lines):
                break
    flow.close()


# The line of a key and the name of the key above it that holds it (:func:`_parent_key`).
_Parent = tuple[int, str | None]


# The name of a mapping of encryption settings: ``encryption`` as its last word
# (``active_record_encryption``, ``activeRecordEncryption``), not a mapping whose name only
# holds the word (``encrypted_messages``, ``encryption_keys``: tables whose ``primary_key`` is a
# column).
_ENCRYPTION_PARENT = re.compile(
    r"(?:(?<![A-Za-z0-9])(?:encryption|Encryption|ENCRYPTION)|(?<=[a-z0-9])Encryption)$"
)


def _encryption_key(
    lines: list[str], index: int, found: dict[int, Masked], parents: dict[int, _Parent]
) -> _Continuation | None:
    """The value of the YAML key of line ``index`` that names a credential only below a key of
    encryption: Rails' ``active_record_encryption:`` then ``primary_key: …`` (what
    ``bin/rails db:encryption:init`` prints), where a ``primary_key`` elsewhere names a column.
    Its span on the line is put in ``found``."""
    line = lines[index]
    key = _YAML_KEY.match(line)
    if key is None:
        return None
    name = key.group("name").strip("\"'")
    if SECRET_NAME.search(name) or not SECRET_NAME.search(f"encryption_{name}"):
        return None
    parent = _parent_key(lines, index, key.start("name"), parents)
    if parent is None or not _ENCRYPTION_PARENT.search(parent):
        return None
    span, going = _yaml_value(line, key)
    if span is not None:
        _add_span(found, index, span)
    return going


def _parent_key(
    lines: list[str], index: int, column: int, parents: dict[int, _Parent]
) -> str | None:
    """The name of the YAML key whose value holds the key at ``column`` of line ``index``: the
    first key above it left of ``column``. The lines read for the key above at the same column
    are not read again (``parents``): a long mapping of such keys is read once."""
    stop, parent = parents.get(column, (-1, None))
    for above in range(index - 1, stop, -1):
        text = lines[above].lstrip(" ")
        if not text.strip() or text.startswith("#") or len(lines[above]) - len(text) >= column:
            continue
        key = _YAML_KEY.match(lines[above])
        parent = key.group("name").strip("\"'") if key is not None else None
        break
    parents[column] = (index, parent)
    return parent


# The files whose flow mappings may go on over lines, YAML's aside: JSON (an ECS task
# definition's ``environment``), Terraform and HCL (``environment = [{ name = …``).
_FLOW_SUFFIXES = (".json", ".tf", ".tfvars", ".hcl")


def _add_span(found: dict[int, Masked], index: int, span: Masked, apart: bool = False) -> None:
    """Put ``span`` in ``found`` at line ``index``; two values on one line (``value: a}, {value:
    b,``, each named on another line) are masked with what is between them, unless ``apart``
    (a Terraform map's values, its keys between them)."""
    held = found.get(index)
    if held is None:
        found[index] = span
    elif apart or isinstance(held, list) or isinstance(span, list):
        found[index] = [*_spans_of(held), *_spans_of(span)]
    else:
        found[index] = (min(held[0], span[0]), max(held[1], span[1]))


def _spans_of(masked: Masked) -> list[_Span]:
    """The spans ``masked`` holds."""
    return masked if isinstance(masked, list) else [masked]


class _Flow:
    """The flow mappings that go on past the line they open on, read line by line: the value
    of one whose ``name`` names a credential is put in ``found`` where it is, above or below the
    name, on every line it holds. A line whose mappings all close on it is left to
    :func:`redact_line`."""

    def __init__(self, lines: list[str], found: dict[int, Masked], yaml: bool) -> None:
        self.lines = lines
        self.found = found
        self.yaml = yaml
        self.mappings: list[_FlowEntry] = []
        # The indentation of the line the outermost open mapping began on.
        self.indent = 0
        # How the last value read goes on to the next line (:func:`_read_flow`).
        self.going: str | None = None

    def read(self, index: int, keyed: bool) -> None:
        """Read line ``index``; ``keyed``: it may hold a credential's name or a ``value``."""
        line = self.lines[index]
        if self.mappings and self.yaml and self._leaves(line):
            self.close()
        start = 0
        if self.going is not None:
            start = self._went_on(index, line)
            if self.going is not None:
                return
        elif not self.mappings:
            if line.count("{") <= line.count("}"):
                return  # its mappings close on it: :func:`redact_line` reads them
            self.indent = _indent(line)
        elif not keyed:
            # No key of an open mapping: only its braces count, read without the pattern when
            # they stand alone (``{``, ``},``) or make mappings of their own (``{"a": 1},``).
            bare = line.strip(" \t,[]")
            if bare == "{":
                self.mappings.append((None, ()))
                return
            if bare == "}":
                self._resolve(self.mappings.pop())
                return
            if line.count("{") == line.count("}") and bare[:1] == "{" and bare[-1:] == "}":
                return
        closed, self.going = _read_flow(line, index, self.mappings, start, self.yaml)
        for entry in closed:
            self._resolve(entry)

    def _went_on(self, index: int, line: str) -> int:
        """Add what ``line`` holds of the value begun above to it: to its closing quote, or a
        plain scalar to the next flow indicator. Where the line's pieces go on."""
        if self.going:
            until = _UNTIL_QUOTE[self.going].match(line)
            end = len(line) if until is None else until.end()
            resume = len(line) if until is None else end + 1
            self.going = None if until is not None else self.going
        else:
            indicator = _FLOW_INDICATOR.search(line)
            end = resume = len(line) if indicator is None else indicator.start()
            if ": " in line[:end] or line[:end].rstrip().endswith(":"):
                self.going = None  # a key: the value ended on the line above
                return 0
            self.going = None if indicator is not None else ""
        name, value = self.mappings[-1]
        spans = tuple((index, span) for span in _value_span(line, 0, end))
        self.mappings[-1] = (name, value + spans)
        return resume

    def _leaves(self, line: str) -> bool:
        """Whether the YAML ``line`` is out of the open mappings: a flow collection's lines are
        more indented than the line it began on, its closing bracket may stand at that column.
        A file that does not parse ends them so."""
        text = line.lstrip(" ")
        if not text.strip():
            return False
        indent = len(line) - len(text)
        return indent < self.indent or (indent == self.indent and text[0] not in "}]")

    def close(self) -> None:
        """End the open mappings (the file ended, or a YAML line left them)."""
        for entry in self.mappings:
            self._resolve(entry)
        self.mappings.clear()
        self.going = None

    def _resolve(self, entry: _FlowEntry) -> None:
        """Put in ``found`` the value of the mapping ``entry`` if its name names a credential:
        the span of its ``value`` key's value on that key's line, and its lines below."""
        name, value = entry
        if not value:
            return
        (number, span), *below = value
        masked = list(_entry_value_span(self.lines[number], name, span))
        for masked_span in masked:
            _add_span(self.found, number, masked_span)
        if masked or (name is not None and SECRET_NAME.search(name.strip().strip("\"'"))):
            for line, below_span in below:
                _add_span(self.found, line, below_span)


def _went_on(
    line: str, index: int, going: _Continuation, found: dict[int, Masked]
) -> tuple[_Continuation | None, bool]:
    """Whether the value ``going`` goes on after line ``index``, and whether that line is part
    of it (its span, if any, put in ``found``)."""
    span, going_on = _continued(line, going)
    if span is not None:
        _add_span(found, index, span)
        return going_on, True
    return going_on, going_on is not None


def _continued(line: str, going: _Continuation) -> tuple[_Span | None, _Continuation | None]:
    """The span of ``line`` that continues the value ``going``, and whether it goes on after
    it: ``(None, None)`` when the value ended before the line (which may open another)."""
    if going.kind == "quote":
        closing = going.end.match(line) if going.end is not None else None
        if closing is None:
            return _text_span(line), going
        return _text_span(line, closing.end()), None
    if going.kind == "element":
        tag = line.find("<")
        if tag < 0:
            return _text_span(line), going
        return _text_span(line, tag), None
    if going.kind == "backslash":
        continues = (len(line) - len(line.rstrip("\\"))) % 2 == 1
        return _text_span(line.rstrip("\\")), going if continues else None
    if not line.strip():
        return None, going  # a blank line: the value may go on below it
    if going.kind == "next":
        # A JSON value below its key: a string, or a scalar; an object's or an array's keys and
        # items are read as theirs.
        value = line.strip()
        start = line.index(value[0])
        if value[0] == '"':
            closing = _UNTIL_QUOTE['"'].match(line, start + 1)
            end = closing.end() if closing is not None else len(line.rstrip())
            return next(_value_span(line, start + 1, end), None), None
        if value[0] in "{[":
            return None, None
        return next(_value_span(line, start, start + len(value.rstrip(","))), None), None
    indent = _indent(line)
    if going.kind == "entry":
        if indent != going.indent:
            return None, going if indent > going.indent else None
        key = _YAML_KEY.match(line)
        if key is None or key.group("name").lower() != "value":
            return None, going
        return _yaml_value(line, key)
    # A list may stand at its key's column (``passwords:`` then ``- a``).
    item = indent == going.indent and line.lstrip(" ").startswith("- ")
    if going.kind == "below":
        if indent < going.indent or (indent == going.indent and not item):
            return None, None
        if line.lstrip(" ").startswith("#"):
            return None, going
        key = _YAML_KEY.match(line)
        if key is not None:
            # Keys: each says what its own value is, but a ``value:`` among them is the
            # credential's (GitLab CI's ``DB_PASSWORD:`` then ``value: s3cret`` and
            # ``description:``).
            return _child_value(line, key, _Continuation("children", going.indent))
        going = _Continuation("block", going.indent, items=item)
    if going.kind == "children":
        if indent <= going.indent:
            return None, None
        key = _YAML_KEY.match(line)
        return _child_value(line, key, going) if key is not None else (None, going)
    if indent < going.indent or (indent == going.indent and not (going.list and item)):
        return None, None
    return _text_span(line), going


def _child_value(
    line: str, key: re.Match[str], going: _Continuation
) -> tuple[_Span | None, _Continuation | None]:
    """A key of the mapping below a credential's name: its ``value:`` is the credential, any
    other key says what its own value is (the keys after it are read on)."""
    if key.group("name").lower() != "value":
        return None, going
    return _yaml_value(line, key)


def _opened(line: str, yaml: bool, properties: bool) -> _Continuation | None:
    """The value of a credential that ``line`` names and does not end, if it has one."""
    element = _OPEN_ELEMENT.search(line) if "<" in line else None
    if element is not None:
        if SECRET_NAME.search(element.group("name")):
            return _Continuation("element")
        return None
    key = (_YAML_KEY if yaml else _LINE_KEY).match(line)
    if key is None:
        json = _JSON_KEY.fullmatch(line) if '"' in line else None
        if json is not None and SECRET_NAME.search(json.group("name")):
            return _Continuation("next")
        return None
    if yaml and key.group("name").lower() == "name":
        # ``- name: DB_PASSWORD`` then ``value: s3cret`` (a Kubernetes env entry; CloudFormation
        # writes an ECS container's ``Environment`` entries ``Name:`` and ``Value:``).
        named = _YAML_PROPERTIES.sub("", key.group("rest"), count=1).split(" #", 1)[0].strip()
        if SECRET_NAME.search(named.strip("\"'")):
            return _Continuation("entry", key.start("name"))
        return None
    if not SECRET_NAME.search(key.group("name").strip("\"'")):
        return None
    rest = key.group("rest")
    if yaml:
        rest = _YAML_PROPERTIES.sub("", rest, count=1)
    value = rest.strip()
    if value[:1] in ("'", '"'):
        until = (_UNTIL_QUOTE if yaml else _UNTIL_ENV_QUOTE)[value[0]]
        if until.match(value, 1) is not None:
            return None  # closed on its line
        return _Continuation("quote", end=until)
    if properties:
        unescaped = (len(value) - len(value.rstrip("\\"))) % 2 == 1
        return _Continuation("backslash") if unescaped else None
    if not yaml:
        return None
    column = key.start("name")
    if not value or value.startswith("#"):
        return _Continuation("below", column)
    # A block scalar, a plain scalar or a flow collection (``[a,`` then ``b]``): the lines
    # more indented than its key are its value.
    return _Continuation("block", column)


def _yaml_value(line: str, key: re.Match[str]) -> tuple[_Span | None, _Continuation | None]:
    """The span of the credential's value that the YAML ``key`` (``value:`` of an env entry)
    holds on ``line``, and how it goes on below."""
    rest = key.group("rest")
    start = key.start("rest") + len(rest) - len(_YAML_PROPERTIES.sub("", rest, count=1))
    value = line[start:].split(" #", 1)[0].rstrip()
    column = key.start("name")
    if not value:
        return None, _Continuation("below", column)
    if value[0] in ("'", '"'):
        closing = _UNTIL_QUOTE[value[0]].match(value, 1)
        if closing is not None:
            span = next(_value_span(line, start + 1, start + closing.end()), None)
            return span, None
        return next(_value_span(line, start + 1, len(line)), None), _Continuation(
            "quote", end=_UNTIL_QUOTE[value[0]]
        )
    if _BLOCK_HEADER.fullmatch(value):
        return None, _Continuation("block", column)
    return next(_value_span(line, start, start + len(value)), None), _Continuation("block", column)


def _value_above(lines: list[str], start: int, stop: int, column: int) -> dict[int, Masked]:
    """The spans of the value that the ``value:`` key at ``column`` of line ``start`` holds, by
    line, if the ``name:`` at the same column of line ``stop`` is of the same entry: no line
    between them after the value, nor the ``name:`` line, starts left of ``column``."""
    key = _YAML_KEY.match(lines[start])
    if key is None or _indent(lines[stop]) < column:
        return {}
    span, going = _yaml_value(lines[start], key)
    spans: dict[int, Masked] = {start: span} if span is not None else {}
    for index in range(start + 1, stop):
        line = lines[index]
        if going is not None:
            going, held = _went_on(line, index, going, spans)
            if held:
                continue
        if line.strip() and not line.lstrip(" ").startswith("#") and _indent(line) < column:
            return {}
    return spans


def _moved_column(column: int, spans: list[tuple[int, int]]) -> int:
    """The 1-based ``column`` (0: unknown) once ``spans`` are masked."""
    if not column:
        return 0
    index = column - 1
    shift = 0
    for start, end in spans:
        if end <= index:
            shift += end - start - len(MASK)
        elif start <= index:
            return start - shift + 1
        else:
            break
    return index - shift + 1
