"""Sentence classification, value extraction and change analysis (diffing.rules, .classify)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffing import classify, rules
from diffing.classify import (
    analyse_change,
    change_kind,
    classify_sentence,
    classify_sentences,
    extract_values,
    split_sentences,
)
from diffing.diff import diff_texts, sentence_spans
from diffing.records import ChangeKind
from tests.conftest import SHARED


def _seed(prefix: str) -> str:
    seeds = SHARED / "seeds"
    if not seeds.is_dir():
        pytest.fail(f"shared test data missing: {seeds} (expected ../shared next to the repo)")
    matches = sorted(seeds.glob(f"{prefix}_*.txt"))
    if not matches:
        pytest.fail(f"seed {prefix} missing in {seeds}")
    return matches[0].read_text(encoding="utf-8")


# One positive and one negative example per rule; every rule in rules.py must appear here.
RULE_EXAMPLES: dict[str, tuple[str, str]] = {
    "fp_we_collect": (
        "We collect information from you when you register on our site.",
        "You can visit our site anonymously.",
    ),
    "fp_we_use": (
        "We may use this information to improve our marketing.",
        "Users can browse the catalogue without an account.",
    ),
    "fp_collect_information": (
        "TRUECONF collects computer hardware and software information.",
        "TRUECONF is committed to protecting your privacy.",
    ),
    "fp_data_types": ("Please enter your email address.", "Please read carefully."),
    "fp_purposes": ("To personalize your experience", "To the extent permitted"),
    "fp_tracking_tech": ("We may use cookies.", "We bake biscuits."),
    "tp_share_with": (
        "We may share your information with our advertising partners.",
        "We share a passion for music.",
    ),
    "tp_share_non_english": (
        "Nous pouvons partager vos données avec nos partenaires.",
        "Nous conservons vos données pendant un an.",
    ),
    "tp_legal_disclosure": (
        "We will disclose your information if required by law.",
        "We will disclose nothing.",
    ),
    "tp_third_party": ("Third party collection of information.", "Our own collection."),
    "tp_third_party_collects": (
        "Advertisers may collect information about your visits.",
        "We collect information about your visits.",
    ),
    "tp_named_party": ("We use Google Analytics.", "We use our own analytics."),
    "tp_sale": ("We do not sell your personal information.", "We store your information."),
    "choice_opt": ("You may opt out at any time.", "You may leave at any time."),
    "choice_consent": (
        "You may withdraw your consent at any time.",
        "You may leave at any time.",
    ),
    "choice_settings": (
        "You can change your browser settings to refuse cookies.",
        "Your browser sends a request.",
    ),
    "access_edit_delete": (
        "You can update or delete your personal information at any time.",
        "We update the software regularly.",
    ),
    "access_rights": (
        "You have the right to erasure of your data.",
        "You have the right attitude.",
    ),
    "retention_keep": (
        "We retain your data for as long as your account is active.",
        "We use your data to provide the service.",
    ),
    "retention_word": ("Our data retention practices are described below.", "Our practices."),
    "retention_period": ("Logs are deleted after 30 days.", "Logs are deleted regularly."),
    "security_measures": (
        "We use SSL encryption to protect data in transit.",
        "Please provide your social security number.",
    ),
    "security_protect": (
        "We take steps to protect your information.",
        "We take steps to improve the site.",
    ),
    "change_policy": (
        "We may update this privacy policy from time to time.",
        "We may update the software from time to time.",
    ),
    "change_notify": (
        "We will notify you of any material changes.",
        "We will notify you when your order ships.",
    ),
    "change_date": ("This policy was last modified on 6/20/2009.", "This policy is short."),
    "dnt": (
        "We do not respond to Do Not Track signals.",
        "We do not track packages for you.",
    ),
    "audience_children": (
        "We do not knowingly collect information from children under 13.",
        "We do not knowingly collect information from adults.",
    ),
    "audience_region": (
        "California residents have additional rights.",
        "All users have the same rights.",
    ),
    "audience_transfer": (
        "We rely on Standard Contractual Clauses for international transfers.",
        "We rely on our staff.",
    ),
    "other_contact": (
        "If you have any questions about this privacy policy, contact us.",
        "We like questions about music.",
    ),
    "other_introduction": (
        "This privacy policy describes how we handle your information.",
        "This song describes a summer.",
    ),
    "third_parties": (
        "We use Google Analytics and the Facebook Pixel.",
        "We use analytics from our own servers.",
    ),
    "partner_types": (
        "We share data with advertising partners.",
        "We keep data to ourselves.",
    ),
    "sale": ("We will never sell your data.", "We will never forget you."),
    "laws": (
        "We comply with the GDPR and the CCPA.",
        "We comply with the gdpr-like wishes of our appi users.",
    ),
    "emails": ("Write to privacy@example.com.", "Write to us at our office."),
    "retention_periods": (
        "We keep logs for 30 days.",
        "We keep logs while needed, for days.",
    ),
}


def _rule_pattern(name: str) -> object:
    for rule in rules.CATEGORY_RULES:
        if rule.name == name:
            return rule.pattern
    for value_rule in rules.VALUE_RULES:
        if value_rule.name == name:
            return value_rule
    raise KeyError(name)


def test_every_rule_has_examples() -> None:
    assert sorted(rules.rule_names()) == sorted(RULE_EXAMPLES)
    assert len(set(rules.rule_names())) == len(rules.rule_names()), "rule names must be unique"


@pytest.mark.parametrize("name", sorted(RULE_EXAMPLES))
def test_rule_positive_and_negative(name: str) -> None:
    positive, negative = RULE_EXAMPLES[name]
    target = _rule_pattern(name)
    if isinstance(target, rules.ValueRule):
        key = target.key
        assert extract_values(positive).get(key), f"{name} should find a value in {positive!r}"
        assert not extract_values(negative).get(key), f"{name} should find none in {negative!r}"
    else:
        assert hasattr(target, "search")
        assert target.search(positive), f"{name} should match {positive!r}"
        assert not target.search(negative), f"{name} should not match {negative!r}"


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("We may share your information with our advertising partners.", rules.THIRD_PARTY),
        ("We collect information from you when you register on our site.", rules.FIRST_PARTY),
        ("You may opt out of marketing e-mails at any time.", rules.USER_CHOICE),
        ("You can update or delete your personal information at any time.", rules.USER_ACCESS),
        ("We retain your data for as long as your account is active.", rules.RETENTION),
        ("We use SSL encryption to protect your data.", rules.SECURITY),
        ("We may update this privacy policy from time to time.", rules.POLICY_CHANGE),
        ("We do not respond to Do Not Track signals.", rules.DO_NOT_TRACK),
        ("Our services are not directed to children under 13.", rules.AUDIENCES),
        ("Contacting us", rules.OTHER),
        ("Disclaimer", rules.OTHER),
    ],
)
def test_classify_sentence_categories(sentence: str, category: str) -> None:
    assert classify_sentence(sentence)[0] == category


def test_values_third_parties_canonical_and_distinct() -> None:
    values = extract_values(
        "We use Google Analytics, DoubleClick and Facebook; Google Analytics sets cookies."
    )
    assert values["third_parties"] == ["Google Analytics", "DoubleClick", "Facebook"]


@pytest.mark.parametrize("canonical", sorted(rules.NAMED_THIRD_PARTIES))
def test_every_named_third_party_is_found_by_its_name(canonical: str) -> None:
    probe = {
        "Segment": "segment.com",
        "Heap": "Heap Analytics",
        "Adjust": "Adjust GmbH",
        "Branch": "Branch Metrics",
        "Sift": "Sift Science",
        "Meta": "Meta Platforms",
        "Firebase": "Firebase",
    }.get(canonical, canonical)
    found = extract_values(f"We work with {probe} to run the service.").get("third_parties")
    assert found is not None and canonical in found


def test_values_partner_types_prefer_the_longest_phrase() -> None:
    values = extract_values("We share data with advertising partners and service providers.")
    assert values["partner_types"] == ["advertising partners", "service providers"]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("we do not sell, trade or otherwise transfer your information.", ["no-sale"]),
        ("We will never sell your personal data.", ["no-sale"]),
        ("We may sell your personal information to third parties.", ["sale"]),
        ("Your information will not be sold.", ["no-sale"]),
    ],
)
def test_values_sale_statements(sentence: str, expected: list[str]) -> None:
    assert extract_values(sentence).get("sale") == expected


def test_values_laws_retention_and_emails() -> None:
    values = extract_values(
        "Under the California Consumer Privacy Act (CCPA), COPPA and the EU-U.S. Privacy "
        "Shield we keep data for 30 days and logs up to 2 years; write to DPO@Example.org."
    )
    assert values["laws"] == ["CCPA", "COPPA", "Privacy Shield"]
    assert values["retention_periods"] == ["for 30 days", "up to 2 years"]
    assert values["emails"] == ["dpo@example.org"]


def test_split_sentences_keeps_lines_and_abbreviations_apart() -> None:
    text = "# Title\n\nWe collect data, e.g. your name. We use it.\n\n* First item\n* Second"
    assert split_sentences(text) == [
        "Title",
        "We collect data, e.g. your name.",
        "We use it.",
        "First item",
        "Second",
    ]


# --- change analysis -----------------------------------------------------------------------


def test_new_sharing_clause_added_to_seed_003() -> None:
    old = _seed("003")
    anchor = (
        "We also retain copies of statements published on the site and correspondence sent to us."
    )
    assert anchor in old
    added = "We may share your information with our advertising partners."
    new = old.replace(anchor, f"{anchor} {added}")
    analysis = analyse_change(old, new, diff_texts(old, new))
    assert analysis.kind is ChangeKind.SUBSTANTIVE
    new_clauses = [c for c in analysis.clauses if c.op == 1]
    assert [c.sentence for c in new_clauses] == [added]
    clause = new_clauses[0]
    assert clause.category == "Third Party Sharing/Collection"
    assert "advertising partners" in clause.values["partner_types"]
    assert "new-sharing-clause" in analysis.flags
    # the old sentence next to it was not touched: nothing removed
    assert [c for c in analysis.clauses if c.op == -1] == []


def test_date_line_only_change_of_seed_000_is_date_only() -> None:
    old = _seed("000")
    line = "This privacy policy was last modified on 6/20/2009."
    assert line in old
    new = old.replace(line, "This privacy policy was last modified on 3/1/2012.")
    analysis = analyse_change(old, new, diff_texts(old, new))
    assert analysis.kind is ChangeKind.DATE_ONLY
    assert analysis.old_stated_date == date(2009, 6, 20)
    assert analysis.new_stated_date == date(2012, 3, 1)
    assert "date-bumped-text-unchanged" in analysis.flags
    assert "silent-edit" not in analysis.flags


def test_silent_edit_when_text_changes_but_date_does_not() -> None:
    old = _seed("000")
    new = old.replace(
        "we do not sell, trade or otherwise transfer",
        "we may sell, trade or otherwise transfer",
    )
    assert new != old
    analysis = analyse_change(old, new, diff_texts(old, new))
    assert analysis.kind is ChangeKind.SUBSTANTIVE
    assert analysis.old_stated_date == analysis.new_stated_date == date(2009, 6, 20)
    assert "silent-edit" in analysis.flags
    added = [c for c in analysis.clauses if c.op == 1]
    removed = [c for c in analysis.clauses if c.op == -1]
    assert added[0].values.get("sale") == ["sale"]
    assert removed[0].values.get("sale") == ["no-sale"]


def test_no_silent_edit_without_a_stated_date() -> None:
    old = _seed("003")
    new = old.replace("your email address", "your email address and phone number")
    analysis = analyse_change(old, new, diff_texts(old, new))
    assert analysis.kind is ChangeKind.SUBSTANTIVE
    assert analysis.old_stated_date is None
    assert "silent-edit" not in analysis.flags


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("We collect data.\n\nWe share it.", "We  collect data.\n\n\nWe share it. ", "whitespace"),
        ("We collect data. We share it.", "We collect data; we share it", "substantive"),
        ("We collect data. We share it.", "We collect data; We share it", "punctuation"),
        ("**We collect** data.", "## We collect data", "punctuation"),
        ("We collect data.\n\nWe share it.", "We share it.\n\nWe collect data.", "reorder"),
        ("A one. B two.", "B two. A one.", "reorder"),
        ("Updated: June 1, 2020\n\nWe do.", "Updated: July 2, 2021\n\nWe do.", "date-only"),
        ("We collect data.", "We collect and sell data.", "substantive"),
    ],
)
def test_change_kinds(old: str, new: str, kind: str) -> None:
    assert change_kind(old, new) == ChangeKind(kind)


_KIND_PAIRS = [
    ("We collect data.\n\nWe share it.", "We share it.\n\nWe collect data."),
    ("1. We collect data.\n2. We share it.", "1. We share it.\n2. We collect data."),
    ("* We collect data.\n\n---\n\nWe share it.", "We share it.\n\n* We collect data."),
    ("We collect data; we share it", "We collect data. We share it."),
    ("We collect data. We share it.", "We collect data. We sell it."),
    ("We collect data. We share it.", "We share data. We collect it."),
    ("Ünïcode ſtays. Ωmega too.", "Ωmega too. Ünïcode ſtays."),
    ("a) We collect data.\nb) We share it.", "c) We share it.\nd) We collect data."),
    ("We collect data.\n\n## 2. Sharing\n\nWe share it.", "## 3. Sharing\n\nWe collect data."),
    ("Updated: June 1, 2020\n\nWe do.", "Updated: July 2, 2021\n\nWe do."),
]


@pytest.mark.parametrize(("old", "new"), _KIND_PAIRS)
def test_change_kind_from_the_diff_agrees_with_the_full_check(old: str, new: str) -> None:
    """analyse_change rules out punctuation and reorder from the letters the diff edits; the
    kind must be the one change_kind finds on the whole texts, both ways round."""
    for a, b in ((old, new), (new, old)):
        assert analyse_change(a, b, diff_texts(a, b)).kind == change_kind(a, b)


def test_change_kind_with_a_foreign_diff_checks_in_full() -> None:
    """A diff that does not rebuild the texts proves nothing about their letters."""
    old, new = _KIND_PAIRS[0]
    foreign = diff_texts("We collect data.", "We sell data.")
    assert analyse_change(old, new, foreign).kind is ChangeKind.REORDER


def test_flip_flop_against_history() -> None:
    v1 = "We collect data.\n\nWe never sell it."
    v2 = "We collect data.\n\nWe sell it."
    analysis = analyse_change(v2, v1, diff_texts(v2, v1), history=[v1])
    assert analysis.kind is ChangeKind.FLIP_FLOP
    assert [c.sentence for c in analysis.clauses if c.op == 1] == ["We never sell it."]
    assert analysis.clauses  # a flip-flop still lists what changed


def test_identical_texts_are_no_change() -> None:
    analysis = analyse_change("Same.", "Same.", diff_texts("Same.", "Same."))
    assert analysis.kind is ChangeKind.WHITESPACE
    assert analysis.flags == ("no-change",)
    assert analysis.clauses == ()


def test_stated_date_flags() -> None:
    old = "Last updated: June 1, 2021\n\nWe collect data."
    new = "Last updated: June 1, 2020\n\nWe collect data and more."
    flags = analyse_change(old, new, diff_texts(old, new)).flags
    assert "stated-date-went-back" in flags
    gone = analyse_change(old, "We collect data.", diff_texts(old, "We collect data.")).flags
    assert "stated-date-removed" in gone


_MARKDOWN = st.lists(
    st.sampled_from(
        [
            *("We", "collect", "data", "ſtays", "Ω", "1.", "2)", "*", "-", "#", "##", ">", "---"),
            *("a)", ".", "!", "?", "e.g.", "Inc.", " ", "  ", "\n", "\n\n", "\r\n", "\u2028"),
            *("\x0c", "7"),
        ]
    ),
    max_size=40,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_MARKDOWN)
def test_every_letter_is_inside_a_sentence(text: str) -> None:
    """What ``_same_letters`` relies on: sentences drop no letter of a text (only whitespace,
    list marks of digits and symbols, letterless lines), so a reorder keeps the letters."""
    inside = {i for s, e in sentence_spans(text) for i in range(s, e)}
    letters = [i for i, c in enumerate(text) if re.match(r"[^\W\d_]", c)]
    assert [text[i] for i in letters if i not in inside] == []


def test_classify_sentences_gives_each_sentences_classification() -> None:
    """A batch (scanned in one pass, repeats and remembered sentences among them) gives what
    one sentence at a time gives, in the order asked."""
    sentences = [s for p in ("000", "003") for s in split_sentences(_seed(p))][:400]
    one_by_one = [classify_sentence(s) for s in sentences]
    classify._MEMO.cache_clear()
    half = len(sentences) // 2
    assert classify_sentences(sentences[:half]) == one_by_one[:half]
    batch = [*sentences, *sentences[:10]]  # half remembered now, half new, some twice
    assert classify_sentences(batch) == [*one_by_one, *one_by_one[:10]]
    assert classify_sentences([]) == []
    # the caller gets its own lists: changing them changes nothing remembered
    first = classify_sentences(["We sell data to Google."])[0]
    first[1]["third_parties"].append("changed")
    assert classify_sentence("We sell data to Google.")[1]["third_parties"] == ["Google"]


def test_classification_memo_keeps_the_most_recent() -> None:
    memo = classify._Memo(2)
    a, b, c = (("Other", ()),) * 3
    memo.put("a", a)
    memo.put("b", b)
    assert memo.get("a") == a  # "a" used last: "b" goes first
    memo.put("c", c)
    assert memo.get("b") is None
    assert memo.get("a") == a and memo.get("c") == c


_DATED = st.lists(
    st.sampled_from(
        [
            *("Last updated: June 1, 2020", "Effective date:  2021-05-01", "Stand: 01.05.2021"),
            *("updated", "June", "2020", "We", "collect", "data.", " ", "\n", "\n\n", "\t", "*"),
        ]
    ),
    max_size=30,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(_DATED)
def test_solid_count_of_a_masked_text(text: str) -> None:
    """The cheap count that rules out date-only changes is the masked text's own count."""
    masked = classify._mask_dates(text)
    assert classify._solid_masked(text) == len("".join(masked.split()))


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("Updated: June 1, 2020\n\nWe do.", "Updated: June 12, 2020\n\nWe do it.", "substantive"),
        ("Updated: June 1, 2020\n\nWe do.", "Updated: June 1, 2021\n\nWe go.", "substantive"),
        ("Updated: June 1, 2020\n\nWe do.", "Updated:  2021-06-01\n\nWe  do.", "date-only"),
    ],
)
def test_date_only_needs_equal_texts_around_the_dates(old: str, new: str, kind: str) -> None:
    """Texts around the dates of equal length but other words, or of other lengths: not
    date-only; only whitespace and the date phrases changed: date-only."""
    assert analyse_change(old, new, diff_texts(old, new)).kind == ChangeKind(kind)
    assert change_kind(old, new) == ChangeKind(kind)
