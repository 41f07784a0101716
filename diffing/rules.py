"""Every pattern used to classify policy sentences, in one place.

Two kinds of rules:

* :data:`CATEGORY_RULES` vote for an OPP-115 category (Wilson et al., ACL 2016). A sentence's
  category is the one with the highest summed weight of matching rules; ties go to the earlier
  category in :data:`CATEGORIES`; no match at all is ``"Other"``.
* :data:`VALUE_RULES` pull values out of a sentence: named third parties, partner types, sale
  statements, laws cited, contact e-mail addresses, retention periods.

Patterns are case-insensitive and English first, with a few German / French / Spanish keyword
rules for sharing. Rule names are stable identifiers: tests give each one a positive and a
negative example, so changing a rule means changing its examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FIRST_PARTY = "First Party Collection/Use"
THIRD_PARTY = "Third Party Sharing/Collection"
USER_CHOICE = "User Choice/Control"
USER_ACCESS = "User Access, Edit and Deletion"
RETENTION = "Data Retention"
SECURITY = "Data Security"
POLICY_CHANGE = "Policy Change"
DO_NOT_TRACK = "Do Not Track"
AUDIENCES = "International and Specific Audiences"
OTHER = "Other"

# Tie-break order: the narrower categories first.
CATEGORIES: tuple[str, ...] = (
    DO_NOT_TRACK,
    RETENTION,
    SECURITY,
    POLICY_CHANGE,
    USER_ACCESS,
    USER_CHOICE,
    AUDIENCES,
    THIRD_PARTY,
    FIRST_PARTY,
    OTHER,
)

_FLAGS = re.IGNORECASE


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern voting ``weight`` for ``category`` when it occurs in a sentence."""

    name: str
    category: str
    pattern: re.Pattern[str]
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class ValueRule:
    """A pattern whose matches give values under ``key`` (``canonical`` names each match)."""

    name: str
    key: str
    pattern: re.Pattern[str]
    canonical: Callable[[re.Match[str]], str | None]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _FLAGS)


def _alternation(table: dict[str, str]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex for a {canonical: alias pattern} table; group ``gN`` names table entry N."""
    groups = {f"g{n}": canonical for n, canonical in enumerate(table)}
    body = "|".join(f"(?P<g{n}>{alias})" for n, alias in enumerate(table.values()))
    return _rx(rf"(?<![\w@-])(?:{body})(?![\w@-])"), groups


# --- values ----------------------------------------------------------------------------------

NAMED_THIRD_PARTIES: dict[str, str] = {
    "Google Analytics": r"google\s+analytics(?:\s+4)?|\bGA4\b",
    "Google AdSense": r"google\s+adsense|adsense",
    "Google Ads": r"google\s+ads|google\s+adwords|adwords",
    "DoubleClick": r"doubleclick",
    "Google Tag Manager": r"google\s+tag\s+manager",
    "Firebase": r"(?:google\s+)?firebase(?:\s+analytics)?",
    "Google": r"google(?:\s+(?:llc|inc\.?|ireland))?",
    "YouTube": r"youtube",
    "Facebook Pixel": r"facebook\s+pixel|meta\s+pixel",
    "Facebook": r"facebook",
    "Meta": r"meta\s+platforms(?:\s+(?:inc\.?|ireland))?|meta(?=\s+(?:ads|business))",
    "Instagram": r"instagram",
    "Twitter": r"twitter",
    "LinkedIn": r"linkedin",
    "TikTok": r"tiktok",
    "Snapchat": r"snapchat|snap\s+inc\.?",
    "Pinterest": r"pinterest",
    "Microsoft Clarity": r"(?:microsoft|ms)\s+clarity",
    "Microsoft": r"microsoft(?:\s+(?:corporation|corp\.?))?",
    "Bing": r"bing(?:\s+ads)?",
    "Amazon Web Services": r"amazon\s+web\s+services|\bAWS\b",
    "Amazon": r"amazon(?:\.com)?",
    "Apple": r"apple(?:\s+inc\.?)?",
    "Adobe": r"adobe(?:\s+analytics)?",
    "Hotjar": r"hotjar",
    "Mixpanel": r"mixpanel",
    "Segment": r"segment\.(?:com|io)|twilio\s+segment",
    "Amplitude": r"amplitude",
    "Heap": r"heap\s+analytics",
    "FullStory": r"fullstory",
    "Intercom": r"intercom",
    "Zendesk": r"zendesk",
    "HubSpot": r"hubspot",
    "Salesforce": r"salesforce",
    "Mailchimp": r"mailchimp",
    "SendGrid": r"sendgrid",
    "Twilio": r"twilio",
    "Stripe": r"stripe",
    "PayPal": r"paypal",
    "Braintree": r"braintree",
    "Cloudflare": r"cloudflare",
    "Akamai": r"akamai",
    "Sentry": r"sentry(?:\.io)?",
    "New Relic": r"new\s+relic",
    "Datadog": r"datadog",
    "AppsFlyer": r"appsflyer",
    "Adjust": r"adjust\s+gmbh|adjust\.com",
    "Branch": r"branch\s+metrics|branch\.io",
    "Braze": r"braze",
    "OneSignal": r"onesignal",
    "Criteo": r"criteo",
    "Taboola": r"taboola",
    "Outbrain": r"outbrain",
    "AppNexus": r"appnexus|xandr",
    "Quantcast": r"quantcast",
    "comScore": r"comscore",
    "Nielsen": r"nielsen",
    "Oracle": r"oracle(?:\s+(?:advertising|data\s+cloud|bluekai))?|bluekai",
    "Yahoo": r"yahoo!?",
    "Yandex": r"yandex(?:\.metri[ck]a)?",
    "OpenAI": r"openai",
    "Optimizely": r"optimizely",
    "Crashlytics": r"crashlytics",
    "Rubicon Project": r"rubicon\s+project|magnite",
    "PubMatic": r"pubmatic",
    "The Trade Desk": r"the\s+trade\s+desk",
    "Sift": r"sift\s+science|sift\.com",
}

PARTNER_TYPES: dict[str, str] = {
    "advertising partners": r"advertising\s+partners?|ad\s+partners?",
    "marketing partners": r"marketing\s+partners?",
    "business partners": r"business\s+partners?|trusted\s+partners?|strategic\s+partners?",
    "advertisers": r"advertisers?",
    "ad networks": r"ad(?:vertising)?\s+networks?|ad\s+servers?|ad\s+exchanges?",
    "analytics providers": r"analytics\s+(?:providers?|services?|partners?|companies)",
    "service providers": r"(?:third[-\s]party\s+)?service\s+providers?|processors?|"
    r"sub-?processors?",
    "payment processors": r"payment\s+(?:processors?|providers?|service\s+providers?)",
    "data brokers": r"data\s+brokers?",
    "affiliates": r"affiliates?|affiliated\s+(?:companies|entities)|corporate\s+family",
    "subsidiaries": r"subsidiar(?:y|ies)|parent\s+company",
    "vendors": r"vendors?|suppliers?",
    "contractors": r"(?:independent\s+)?contractors?",
    "social networks": r"social\s+(?:media\s+)?(?:networks?|platforms?)",
    "law enforcement": r"law\s+enforcement(?:\s+agencies)?|police",
    "government authorities": r"government(?:al)?\s+(?:authorities|agencies|bodies)|"
    r"public\s+authorities|regulators?",
    "acquirers": r"(?:potential\s+)?(?:buyers?|acquirers?|successors?)(?=[^.;]{0,60}"
    r"(?:merger|acquisition|sale|bankruptcy))",
    "partners": r"partners?",
    "third parties": r"third[-\s]part(?:y|ies)|outside\s+parties|other\s+companies",
}


def _cs(acronyms: str) -> str:
    """Acronyms matched case-sensitively: "appi" or "dpf" in running text are not laws."""
    return rf"(?-i:{acronyms})"


LAWS: dict[str, str] = {
    "UK GDPR": _cs(r"UK\s+GDPR"),
    "GDPR": _cs(r"GDPR|DS-?GVO|RGPD") + r"|general\s+data\s+protection\s+regulation|"
    r"datenschutz-?grundverordnung|règlement\s+général\s+sur\s+la\s+protection\s+des\s+données",
    "CCPA": _cs("CCPA") + r"|california\s+consumer\s+privacy\s+act",
    "CPRA": _cs("CPRA") + r"|california\s+privacy\s+rights\s+act",
    "CalOPPA": _cs("CalOPPA|CALOPPA") + r"|california\s+online\s+privacy\s+protection\s+act",
    "Shine the Light": r"shine\s+the\s+light|(?:civil\s+code\s+)?(?:section\s+|§\s*)?1798\.83",
    "COPPA": _cs("COPPA") + r"|children['’]?s\s+online\s+privacy\s+protection\s+act",
    "Privacy Shield": r"(?:EU-U\.?S\.?\s+|swiss-U\.?S\.?\s+)?privacy\s+shield",
    "Data Privacy Framework": r"data\s+privacy\s+framework|" + _cs("DPF"),
    "PIPEDA": _cs("PIPEDA")
    + r"|personal\s+information\s+protection\s+and\s+electronic\s+documents\s+act",
    "LGPD": _cs("LGPD") + r"|lei\s+geral\s+de\s+prote[cç][aã]o\s+de\s+dados",
    "VCDPA": _cs("VCDPA") + r"|virginia\s+consumer\s+data\s+protection\s+act",
    "CPA (Colorado)": r"colorado\s+privacy\s+act",
    "Nevada SB 220": r"(?:NRS|nevada\s+revised\s+statutes)(?:\s+chapter)?\s+603A|chapter\s+603A",
    "CAN-SPAM": _cs(r"CAN[-\s]SPAM"),
    "HIPAA": _cs("HIPAA") + r"|health\s+insurance\s+portability\s+and\s+accountability\s+act",
    "FERPA": _cs("FERPA"),
    "GLBA": _cs("GLBA") + r"|gramm[-\s]leach[-\s]bliley(?:\s+act)?",
    "ePrivacy Directive": r"e-?privacy\s+directive",
    "UK Data Protection Act 2018": r"data\s+protection\s+act\s+(?:of\s+)?2018",
    "Loi Informatique et Libertés": r"loi\s+(?:«\s*|\"\s*)?informatique\s+et\s+libert[ée]s",
    "BDSG": _cs("BDSG") + r"|bundesdatenschutzgesetz",
    "nFADP": _cs("nDSG|n?FADP|revDSG") + r"|federal\s+act\s+on\s+data\s+protection",
    "APPI": _cs("APPI") + r"|act\s+on\s+the\s+protection\s+of\s+personal\s+information",
    "PIPL": _cs("PIPL") + r"|personal\s+information\s+protection\s+law",
    "POPIA": _cs("POPIA") + r"|protection\s+of\s+personal\s+information\s+act",
}

_THIRD_PARTY_RE, _THIRD_PARTY_NAMES = _alternation(NAMED_THIRD_PARTIES)
_PARTNER_RE, _PARTNER_NAMES = _alternation(PARTNER_TYPES)
_LAW_RE, _LAW_NAMES = _alternation(LAWS)


def _table_value(groups: dict[str, str]) -> Callable[[re.Match[str]], str | None]:
    def canonical(m: re.Match[str]) -> str | None:
        return groups[m.lastgroup] if m.lastgroup else None

    return canonical


_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|eighteen|twenty|twenty-four|thirty|thirty-six|sixty|ninety"
)
_RETENTION_RE = _rx(
    r"\b(?P<q>for|up\s+to|no\s+(?:longer|more)\s+than|not\s+(?:longer|more)\s+than|"
    r"(?:a\s+)?maximum\s+of|(?:a\s+)?minimum\s+of|at\s+least|at\s+most|after|"
    r"(?:a\s+)?period\s+of)\s+(?:a\s+period\s+of\s+)?"
    rf"(?P<n>\d+|{_NUMBER_WORDS})(?:\s*\(\d+\))?\s+(?P<u>day|week|month|year)s?\b"
)


def _retention_value(m: re.Match[str]) -> str | None:
    qualifier = " ".join(m.group("q").lower().split())
    qualifier = qualifier.removeprefix("a ")
    n = m.group("n").lower()
    unit = m.group("u").lower()
    plural = "" if n in ("1", "one") else "s"
    return f"{qualifier} {n} {unit}{plural}"


_NO_SALE_RE = _rx(
    r"\b(?:do|does|will|shall|would|can)\s*(?:not|n['’]t)\s+(?:\w+[\s,]+){0,4}?sell\b|"
    r"\b(?:(?:do|does|will|shall|would|can|could)\s+)?never\s+(?:\w+[\s,]+){0,3}?sell\b|"
    r"\bnot\s+(?:be\s+)?sold\b|\bno\s+sale\s+of\b|"
    r"\bhave\s+not\s+sold\b"
)
_SALE_RE = _rx(
    r"\b(?:may|might|can|could|will|also)\s+(?:(?!not\b|never\b)\w+\s+){0,2}?sell\b|"
    r"\bsells?\s+(?:your\s+|the\s+)?(?:personal\s+)?(?:information|data)\b|"
    r"\bsale\s+of\s+(?:your\s+)?(?:personal\s+)?(?:information|data)\b|"
    r"\b(?:sold|sell)\s+(?:\w+\s+){0,3}?to\s+third\s+parties\b"
)


def _sale_value(m: re.Match[str]) -> str | None:
    return "no-sale" if _NO_SALE_RE.fullmatch(m.group(0)) else "sale"


_SALE_STATEMENT_RE = re.compile(f"{_NO_SALE_RE.pattern}|{_SALE_RE.pattern}", _FLAGS)

_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", _FLAGS)


def _email_value(m: re.Match[str]) -> str | None:
    return m.group(0).lower()


VALUE_RULES: tuple[ValueRule, ...] = (
    ValueRule("third_parties", "third_parties", _THIRD_PARTY_RE, _table_value(_THIRD_PARTY_NAMES)),
    ValueRule("partner_types", "partner_types", _PARTNER_RE, _table_value(_PARTNER_NAMES)),
    ValueRule("sale", "sale", _SALE_STATEMENT_RE, _sale_value),
    ValueRule("laws", "laws", _LAW_RE, _table_value(_LAW_NAMES)),
    ValueRule("emails", "emails", _EMAIL_RE, _email_value),
    ValueRule("retention_periods", "retention_periods", _RETENTION_RE, _retention_value),
)


# --- categories ------------------------------------------------------------------------------

_SHARE_VERB = (
    r"(?:share[sd]?|sharing|disclos(?:e[sd]?|ing)|transfer(?:s|red|ring)?|provid(?:e[sd]?|ing)|"
    r"make\s+available|made\s+available|sell|sold|rent(?:ed)?|lease[sd]?|trade[sd]?|pass(?:ed)?\s+on|"
    r"give|send)"
)
_RECIPIENT = (
    r"(?:third[-\s]part(?:y|ies)|partners?|affiliates?|advertisers?|service\s+providers?|vendors?|"
    r"outside\s+parties|other\s+companies|subsidiar(?:y|ies)|law\s+enforcement|authorities|"
    r"ad\s+networks?|analytics\s+providers?|processors?|data\s+brokers?)"
)

CATEGORY_RULES: tuple[Rule, ...] = (
    # First Party Collection/Use
    Rule(
        "fp_we_collect",
        FIRST_PARTY,
        _rx(
            r"\b(?:we|us|our\s+(?:company|service|site|website|app))\b[^.;]{0,50}?"
            r"\b(?:collect|gather|obtain|receive|record|log|process|request)(?:s|ed|ing)?\b"
        ),
        1.5,
    ),
    Rule(
        "fp_we_use",
        FIRST_PARTY,
        _rx(r"\bwe\b[^.;]{0,30}?\buse[sd]?\b[^.;]{0,50}?\b(?:information|data|details)\b"),
        1.5,
    ),
    Rule(
        "fp_collect_information",
        FIRST_PARTY,
        _rx(
            r"\b(?:collect(?:s|ed|ing)?|gather(?:s|ed|ing)?)\b[^.;]{0,60}?"
            r"\b(?:information|data|details)\b"
        ),
        1.0,
    ),
    Rule(
        "fp_data_types",
        FIRST_PARTY,
        _rx(
            r"\b(?:e-?mail\s+address(?:es)?|ip\s+address(?:es)?|(?:full\s+)?name|phone\s+number|"
            r"postal\s+address|date\s+of\s+birth|location\s+(?:data|information)|"
            r"device\s+identifiers?|browser\s+type|operating\s+system|credit\s+card|"
            r"payment\s+(?:information|details))\b"
        ),
        0.5,
    ),
    Rule(
        "fp_purposes",
        FIRST_PARTY,
        _rx(
            r"\bto\s+(?:personali[sz]e|improve|provide|operate|authenticate|customi[sz]e)\b|"
            r"\bfor\s+(?:marketing|analytics|research|internal)\s+purposes\b"
        ),
        0.5,
    ),
    Rule(
        "fp_tracking_tech",
        FIRST_PARTY,
        _rx(
            r"\b(?:cookies?|web\s+beacons?|pixel\s+tags?|tracking\s+technolog(?:y|ies)|"
            r"local\s+storage|clear\s+gifs?)\b"
        ),
        0.5,
    ),
    # Third Party Sharing/Collection
    Rule(
        "tp_share_with",
        THIRD_PARTY,
        _rx(rf"\b{_SHARE_VERB}\b[^.;]{{0,80}}?\b{_RECIPIENT}\b"),
        2.5,
    ),
    Rule(
        "tp_share_non_english",
        THIRD_PARTY,
        _rx(
            r"\b(?:partag|transmet|transmis|communiqu|céd|weiterge|weitergab|übermittel|"
            r"offengeleg|compart|ced[ei]|transfer)\w*\b[^.;]{0,80}?"
            r"\b(?:tiers|partenaires?|prestataires?|Dritte[n]?|Partner[n]?|Dienstleister[n]?|"
            r"terceros|socios|proveedores)\b"
        ),
        2.5,
    ),
    Rule(
        "tp_legal_disclosure",
        THIRD_PARTY,
        _rx(
            r"\bdisclos\w*\b[^.;]{0,80}?\b(?:required\s+(?:to\s+do\s+so\s+)?by\s+law|"
            r"legal\s+process|court\s+order|subpoena|law\s+enforcement)"
        ),
        2.0,
    ),
    Rule("tp_third_party", THIRD_PARTY, _rx(r"\bthird[-\s]part(?:y|ies)\b"), 1.0),
    Rule(
        "tp_third_party_collects",
        THIRD_PARTY,
        _rx(
            r"\b(?:third[-\s]part(?:y|ies)|advertisers?|ad\s+networks?|analytics\s+providers?|"
            r"partners?)\b[^.;]{0,60}?\b(?:collect|use|place|set|serve|track)s?\b"
        ),
        1.5,
    ),
    Rule("tp_named_party", THIRD_PARTY, _THIRD_PARTY_RE, 1.0),
    Rule("tp_sale", THIRD_PARTY, _SALE_STATEMENT_RE, 1.5),
    # User Choice/Control
    Rule("choice_opt", USER_CHOICE, _rx(r"\bopt(?:[-\s]?(?:out|in))\b|\bunsubscrib\w*"), 2.0),
    Rule(
        "choice_consent",
        USER_CHOICE,
        _rx(r"\b(?:your\s+consent|withdraw|revoke|without\s+(?:your\s+)?(?:prior\s+)?permission)"),
        1.0,
    ),
    Rule(
        "choice_settings",
        USER_CHOICE,
        _rx(
            r"\b(?:(?:browser|privacy|account|cookie|notification)\s+settings|preferences|"
            r"you\s+(?:can|may)\s+(?:\w+\s+)?(?:choose|decline|disable|refuse|turn\s+off|block|"
            r"reject|adjust|control|manage|set\s+your\s+browser))\b"
        ),
        1.5,
    ),
    # User Access, Edit and Deletion
    Rule(
        "access_edit_delete",
        USER_ACCESS,
        _rx(
            r"\b(?:access|review|correct|rectify|update|amend|edit|delete|erase|remove|obtain\s+a\s+"
            r"copy\s+of)\b[^.;]{0,30}?\byour\s+(?:personal\s+)?(?:information|data|account|"
            r"profile|details)\b"
        ),
        2.0,
    ),
    Rule(
        "access_rights",
        USER_ACCESS,
        _rx(
            r"\bright\s+(?:to|of)\s+(?:access|rectification|erasure|deletion|be\s+forgotten|"
            r"(?:data\s+)?portability|correct|delete|know)\b|\bdata\s+portability\b|"
            r"\b(?:delete|close|deactivate)\s+your\s+account\b"
        ),
        2.5,
    ),
    # Data Retention
    Rule(
        "retention_keep",
        RETENTION,
        _rx(
            r"\b(?:retain(?:s|ed)?|retention|keep|kept|store[sd]?|hold)\b[^.;]{0,60}?"
            r"\b(?:as\s+long\s+as|until|no\s+longer\s+than|period|for\s+(?:up\s+to\s+)?\d+|"
            r"for\s+(?:a|the)\s+(?:period|duration))"
        ),
        2.5,
    ),
    Rule("retention_word", RETENTION, _rx(r"\b(?:retention|retain(?:s|ed|ing)?)\b"), 1.5),
    Rule("retention_period", RETENTION, _RETENTION_RE, 1.0),
    # Data Security
    Rule(
        "security_measures",
        SECURITY,
        _rx(
            r"(?<!social\s)\bsecur(?:e|ity|ed|ely)\b(?!\s+number)|\bencrypt\w*|\bSSL\b|\bTLS\b|"
            r"\bfirewalls?\b|\bsafeguards?\b|\bunauthori[sz]ed\s+(?:access|use|disclosure)\b|"
            r"\b(?:data\s+)?breach(?:es)?\b|\bpassword[-\s]protected\b"
        ),
        2.0,
    ),
    Rule(
        "security_protect",
        SECURITY,
        _rx(r"\bprotect(?:s|ed|ing|ion)?\b[^.;]{0,40}?\b(?:information|data)\b"),
        1.0,
    ),
    # Policy Change
    Rule(
        "change_policy",
        POLICY_CHANGE,
        _rx(
            r"\b(?:chang(?:e|es|ed|ing)|updat(?:e|es|ed|ing)|modif(?:y|ies|ied|ying|ications?)|"
            r"amend(?:s|ed|ments?)?|revis(?:e|es|ed|ions?))\b[^.;]{0,40}?"
            r"\b(?:this|our|the)\s+(?:privacy\s+)?(?:policy|statement|notice)\b"
        ),
        2.5,
    ),
    Rule(
        "change_notify",
        POLICY_CHANGE,
        _rx(r"\b(?:notify|inform)\s+you\b[^.;]{0,60}?\bchanges?\b|\bmaterial\s+changes?\b"),
        1.5,
    ),
    Rule(
        "change_date",
        POLICY_CHANGE,
        _rx(r"\blast\s+(?:updated|modified|revised)\b|\beffective\s+date\b"),
        1.5,
    ),
    # Do Not Track
    Rule(
        "dnt",
        DO_NOT_TRACK,
        _rx(
            r"(?-i:\b[Dd]o[-\s]Not[-\s]Track\b)|\bDNT\b|\bglobal\s+privacy\s+control\b|\(GPC\)|"
            r"\bdo[-\s]not[-\s]track\s+(?:signals?|requests?|settings?|features?|preferences?|"
            r"headers?|mechanisms?|browser)"
        ),
        4.0,
    ),
    # International and Specific Audiences
    Rule(
        "audience_children",
        AUDIENCES,
        _rx(
            r"\b(?:children|child|minors?|kids|under\s+(?:the\s+age\s+of\s+)?1[3-8]|"
            r"parental\s+consent|COPPA)\b"
        ),
        2.5,
    ),
    Rule(
        "audience_region",
        AUDIENCES,
        _rx(
            r"\b(?:california|nevada|virginia|colorado|connecticut|utah|texas|european\s+union|"
            r"european\s+economic\s+area|EEA|EU|UK|united\s+kingdom|switzerland|canad(?:a|ian)|"
            r"brazil(?:ian)?|australia(?:n)?|japan(?:ese)?)\b[^.;]{0,30}?\b(?:residents?|users?|"
            r"citizens?|individuals|consumers|visitors|members)\b|"
            r"\bif\s+you\s+(?:are|reside|live)\s+(?:in|outside)\b|\byour\s+california\s+privacy"
        ),
        2.5,
    ),
    Rule(
        "audience_transfer",
        AUDIENCES,
        _rx(
            r"\b(?:international|cross[-\s]border)\s+(?:data\s+)?transfers?\b|"
            r"\bstandard\s+contractual\s+clauses\b|\badequacy\s+decisions?\b|"
            r"\b(?:transferred|stored|processed)\s+(?:to\s+|in\s+)?(?:and\s+\w+\s+)?(?:in\s+)?"
            r"(?:countries\s+)?outside\b"
        ),
        2.0,
    ),
    # Other
    Rule(
        "other_contact",
        OTHER,
        _rx(
            r"\bcontact\s+us\b|\bquestions?\b[^.;]{0,40}?\b(?:policy|privacy|statement)\b|"
            rf"{_EMAIL_RE.pattern}"
        ),
        1.0,
    ),
    Rule(
        "other_introduction",
        OTHER,
        _rx(
            r"\b(?:this|our)\s+(?:privacy\s+)?(?:policy|statement|notice)\s+(?:describes|explains|"
            r"sets\s+out|applies|governs|covers|is\s+(?:designed|intended))\b"
        ),
        1.0,
    ),
)

SALE_STATEMENT_RE = _SALE_STATEMENT_RE  # exported for classify's sale / no-sale values


def rule_names() -> list[str]:
    """The names of all rules, category and value rules alike."""
    return [r.name for r in CATEGORY_RULES] + [r.name for r in VALUE_RULES]
