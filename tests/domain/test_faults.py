"""Fault rules: every form a rule may take and every way one may be wrong (reported all at
once, at JSON pointers), how requests are matched, drawn and counted, and the delays drawn."""

from __future__ import annotations

import math
import random
import statistics
import threading
from typing import Any

import pytest

from hamr.api.errors import status_of
from hamr.domain.errors import ValidationFailed
from hamr.emulator.faults.model import (
    PASS_THROUGH,
    ConnectionFault,
    FaultRule,
    FixedDelay,
    LatencyEffect,
    LognormalDelay,
    RequestFacts,
    StatusEffect,
    UniformDelay,
    rule_document,
)
from hamr.emulator.faults.parsing import parse_rule
from hamr.emulator.faults.rules import FaultRules, Firing

ORG = "550e8400-e29b-41d4-a716-446655440000"
OTHER_ORG = "660f9511-f3ac-52e5-b827-557766551111"
GET = RequestFacts("GET", "/api/v2/hamr", ORG, "eu1")


def effect_of(firing: Firing | None) -> object:
    """What a firing does (None: the request is served normally)."""
    return None if firing is None else firing.effect


def violations(data: object) -> list[tuple[str | None, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_rule(data, "rule-x")
    return [(v.pointer, v.detail) for v in caught.value.violations()]


def with_rules(*rules: dict[str, Any]) -> FaultRules:
    found = FaultRules()
    for rule in rules:
        found.add(rule)
    return found


def fired(rules: FaultRules) -> list[object]:
    return [document["fired"] for document in rules.rules()]


# Parsing: the valid forms.


def test_a_bare_status_rule_takes_the_defaults() -> None:
    rule = parse_rule({"status": 429}, "rule-7")
    assert rule == FaultRule(
        id="rule-7",
        method=None,
        path=None,
        org=None,
        datacenter=None,
        probability=1,
        times=None,
        effects=(StatusEffect(429, None),),
        is_sequence=False,
    )


@pytest.mark.parametrize(
    ("data", "effect"),
    [
        ({"status": 429}, StatusEffect(429)),
        ({"status": 500}, StatusEffect(500)),
        ({"status": 503}, StatusEffect(503)),
        ({"status": 503, "retry_after": 5}, StatusEffect(503, 5)),
        ({"status": 429, "retry_after": 1}, StatusEffect(429, 1)),
        ({"latency": {"fixed_ms": 200}}, LatencyEffect(FixedDelay(200))),
        ({"latency": {"fixed_ms": 0}}, LatencyEffect(FixedDelay(0))),
        ({"latency": {"fixed_ms": 2.5, "max_ms": 1}}, LatencyEffect(FixedDelay(2.5), 1)),
        (
            {"latency": {"uniform": {"lower_ms": 10, "upper_ms": 50}}},
            LatencyEffect(UniformDelay(10, 50)),
        ),
        (
            {"latency": {"uniform": {"lower_ms": 7, "upper_ms": 7}}},
            LatencyEffect(UniformDelay(7, 7)),
        ),
        (
            {"latency": {"lognormal": {"median_ms": 100, "sigma": 0.5}, "max_ms": 400}},
            LatencyEffect(LognormalDelay(100, 0.5), 400),
        ),
        ({"fault": "connection_reset"}, ConnectionFault("connection_reset")),
        ({"fault": "empty_response"}, ConnectionFault("empty_response")),
        ({"fault": "malformed_body"}, ConnectionFault("malformed_body")),
        ({"fault": "down", "datacenter": "eu1"}, ConnectionFault("down")),
    ],
)
def test_each_effect_form_parses(data: dict[str, Any], effect: object) -> None:
    rule = parse_rule(data, "rule-1")
    assert rule.effects == (effect,)
    assert not rule.is_sequence


def test_a_sequence_keeps_its_items_in_order_with_pass_items() -> None:
    rule = parse_rule(
        {
            "sequence": [
                {"status": 503, "retry_after": 2},
                {"pass": True},
                {"latency": {"fixed_ms": 30}},
                {"fault": "connection_reset"},
            ]
        },
        "rule-1",
    )
    assert rule.is_sequence
    assert rule.effects == (
        StatusEffect(503, 2),
        PASS_THROUGH,
        LatencyEffect(FixedDelay(30)),
        ConnectionFault("connection_reset"),
    )


def test_matches_are_normalised_method_upper_org_lower_datacenter_short() -> None:
    rule = parse_rule(
        {
            "method": "post",
            "path": "/api/v2/hamr/*",
            "org": ORG.upper(),
            "datacenter": "us5.prod.dog",
            "probability": 0.25,
            "times": 3,
            "status": 500,
        },
        "rule-1",
    )
    assert (rule.method, rule.path, rule.org, rule.datacenter) == (
        "POST",
        "/api/v2/hamr/*",
        ORG,
        "us5",
    )
    assert (rule.probability, rule.times) == (0.25, 3)


@pytest.mark.parametrize("probability", [0, 0.0, 0.5, 1, 1.0])
def test_probability_takes_the_whole_closed_range(probability: float) -> None:
    assert parse_rule({"probability": probability, "status": 500}, "r").probability == probability


# Documents.


def test_a_document_gives_the_rule_back_as_sent_with_id_and_fired() -> None:
    rule = parse_rule(
        {"method": "get", "path": "/api/v2/hamr", "status": 503, "retry_after": 5, "times": 2},
        "rule-3",
    )
    assert rule_document(rule, 1) == {
        "id": "rule-3",
        "method": "GET",
        "path": "/api/v2/hamr",
        "probability": 1,
        "times": 2,
        "status": 503,
        "retry_after": 5,
        "fired": 1,
    }


def test_a_sequence_document_lists_its_items_and_pass_items() -> None:
    rule = parse_rule(
        {
            "org": ORG,
            "datacenter": "eu1",
            "probability": 0.5,
            "sequence": [
                {"latency": {"uniform": {"lower_ms": 1, "upper_ms": 2}, "max_ms": 2}},
                {"pass": True},
                {"latency": {"lognormal": {"median_ms": 100, "sigma": 0.5}}},
            ],
        },
        "rule-1",
    )
    assert rule_document(rule, 0) == {
        "id": "rule-1",
        "org": ORG,
        "datacenter": "eu1",
        "probability": 0.5,
        "sequence": [
            {"latency": {"uniform": {"lower_ms": 1, "upper_ms": 2}, "max_ms": 2}},
            {"pass": True},
            {"latency": {"lognormal": {"median_ms": 100, "sigma": 0.5}}},
        ],
        "fired": 0,
    }


@pytest.mark.parametrize(
    "data",
    [
        {"status": 429},
        {"status": 503, "retry_after": 9, "method": "delete", "times": 1},
        {"latency": {"fixed_ms": 200, "max_ms": 100}, "path": "/api/*"},
        {"latency": {"uniform": {"lower_ms": 10, "upper_ms": 50}}, "probability": 0},
        {"latency": {"lognormal": {"median_ms": 100, "sigma": 0.5}}, "org": ORG.upper()},
        {"fault": "malformed_body", "datacenter": "eu1.prod.dog"},
        {"fault": "down", "datacenter": "us1", "times": 4},
        {"sequence": [{"pass": True}, {"status": 500}, {"fault": "empty_response"}]},
    ],
)
def test_a_document_sent_back_makes_the_same_rule(data: dict[str, Any]) -> None:
    rule = parse_rule(data, "rule-9")
    document = rule_document(rule, 5)
    assert (document.pop("id"), document.pop("fired")) == ("rule-9", 5)
    assert parse_rule(document, "rule-9") == rule


# Parsing: each invalid form, at its pointer.


@pytest.mark.parametrize("data", [None, [], ["status", 500], "status", 503, True])
def test_anything_but_an_object_is_one_violation_of_the_whole(data: object) -> None:
    [(pointer, detail)] = violations(data)
    assert pointer == ""
    assert detail.startswith("A fault rule must be a JSON object")


@pytest.mark.parametrize(
    ("data", "pointer", "detail"),
    [
        ({"status": 404}, "/status", "status must be 429, 500 or 503; got 404."),
        ({"status": "429"}, "/status", 'status must be 429, 500 or 503; got "429".'),
        ({"status": True}, "/status", "status must be 429, 500 or 503; got true."),
        ({"status": 503.0}, "/status", "got 503.0."),
        ({"status": 503, "retry_after": 0}, "/retry_after", "1 or more; got 0."),
        ({"status": 503, "retry_after": 1.5}, "/retry_after", "got 1.5."),
        ({"status": 503, "retry_after": True}, "/retry_after", "got true."),
        ({"status": 500, "retry_after": 5}, "/retry_after", "429 or 503, not 500"),
        ({"latency": 200}, "/latency", 'latency must be an object such as {"fixed_ms": 200}'),
        ({"latency": {}}, "/latency", "exactly one of fixed_ms, uniform or lognormal; got none."),
        (
            {"latency": {"fixed_ms": 1, "uniform": {"lower_ms": 1, "upper_ms": 2}}},
            "/latency",
            "got fixed_ms and uniform.",
        ),
        ({"latency": {"fixed_ms": -1}}, "/latency/fixed_ms", "0 or more; got -1."),
        ({"latency": {"fixed_ms": "200"}}, "/latency/fixed_ms", 'got "200".'),
        ({"latency": {"fixed_ms": math.nan}}, "/latency/fixed_ms", "got NaN."),
        ({"latency": {"fixed_ms": math.inf}}, "/latency/fixed_ms", "got Infinity."),
        ({"latency": {"fixed_ms": 10**400}}, "/latency/fixed_ms", "milliseconds, 0 or more"),
        ({"latency": {"fixed_ms": False}}, "/latency/fixed_ms", "got false."),
        ({"latency": {"fixed_ms": 10, "max_ms": -5}}, "/latency/max_ms", "got -5."),
        ({"latency": {"fixed_ms": 10, "jitter": 1}}, "/latency/jitter", 'field "jitter"'),
        ({"latency": {"uniform": [10, 50]}}, "/latency/uniform", "uniform must be an object"),
        (
            {"latency": {"uniform": {"lower_ms": 10}}},
            "/latency/uniform/upper_ms",
            "Missing required upper_ms",
        ),
        (
            {"latency": {"uniform": {"lower_ms": 50, "upper_ms": 10}}},
            "/latency/uniform/lower_ms",
            "lower_ms (50) must not exceed upper_ms (10)",
        ),
        (
            {"latency": {"uniform": {"lower_ms": -1, "upper_ms": 10}}},
            "/latency/uniform/lower_ms",
            "got -1.",
        ),
        (
            {"latency": {"uniform": {"lower_ms": 1, "upper_ms": 2, "mode": 1}}},
            "/latency/uniform/mode",
            "uniform takes lower_ms and upper_ms",
        ),
        ({"latency": {"lognormal": 3}}, "/latency/lognormal", "lognormal must be an object"),
        (
            {"latency": {"lognormal": {"median_ms": 100, "sigma": 0}}},
            "/latency/lognormal/sigma",
            "sigma must be a number more than 0",
        ),
        (
            {"latency": {"lognormal": {"median_ms": 100, "sigma": -0.5}}},
            "/latency/lognormal/sigma",
            "got -0.5.",
        ),
        (
            {"latency": {"lognormal": {"median_ms": 100, "sigma": "wide"}}},
            "/latency/lognormal/sigma",
            'got "wide".',
        ),
        (
            {"latency": {"lognormal": {"median_ms": -5, "sigma": 0.5}}},
            "/latency/lognormal/median_ms",
            "got -5.",
        ),
        (
            {"latency": {"lognormal": {"sigma": 0.5}}},
            "/latency/lognormal/median_ms",
            "Missing required median_ms",
        ),
        ({"fault": "timeout"}, "/fault", "fault must be one of connection_reset"),
        ({"fault": 1}, "/fault", "got 1."),
        ({"fault": "down"}, "/fault", 'fault "down" needs the datacenter that is down'),
        ({"fault": "down", "datacenter": "eu1", "path": "/x"}, "/path", "no path match"),
        ({"fault": "down", "datacenter": "eu1", "method": "GET"}, "/method", "no method match"),
        ({"fault": "down", "datacenter": "eu1", "org": ORG}, "/org", "no org match"),
        ({"fault": "down", "datacenter": "eu1", "probability": 0.5}, "/probability", "all or"),
        ({}, "", "exactly one of status, latency, fault or sequence; got none."),
        (
            {"status": 500, "fault": "connection_reset"},
            "",
            "exactly one of status, latency, fault or sequence; got status and fault.",
        ),
        (
            {"status": 500, "latency": {"fixed_ms": 1}, "sequence": [{"status": 500}]},
            "",
            "got status, latency and sequence.",
        ),
        ({"status": 500, "colour": "red"}, "/colour", 'Unknown field "colour"'),
        ({"status": 500, "a/b~c": 1}, "/a~1b~0c", 'Unknown field "a/b~c"'),
        ({"status": 500, "method": "GET /"}, "/method", 'such as "GET"; got "GET /".'),
        ({"status": 500, "method": 5}, "/method", "got 5."),
        ({"status": 500, "method": ""}, "/method", 'got "".'),
        ({"status": 500, "path": "api/v2"}, "/path", 'got "api/v2".'),
        ({"status": 500, "path": "/a*/b"}, "/path", 'a prefix ending in "*"'),
        ({"status": 500, "path": 3}, "/path", "got 3."),
        ({"status": 500, "org": "not-a-uuid"}, "/org", "org must be an organization's UUID"),
        ({"status": 500, "org": None}, "/org", "got null."),
        ({"status": 500, "datacenter": ""}, "/datacenter", 'such as "eu1"; got "".'),
        ({"status": 500, "datacenter": " eu1"}, "/datacenter", 'got " eu1".'),
        ({"status": 500, "datacenter": 1}, "/datacenter", "got 1."),
        ({"status": 500, "probability": 1.5}, "/probability", "from 0 (never fire) to 1"),
        ({"status": 500, "probability": -0.1}, "/probability", "got -0.1."),
        ({"status": 500, "probability": "1"}, "/probability", 'got "1".'),
        ({"status": 500, "probability": True}, "/probability", "got true."),
        ({"status": 500, "probability": math.nan}, "/probability", "got NaN."),
        ({"status": 500, "times": 0}, "/times", "1 or more (leave it out for no limit); got 0."),
        ({"status": 500, "times": -1}, "/times", "got -1."),
        ({"status": 500, "times": 2.0}, "/times", "got 2.0."),
        ({"status": 500, "times": True}, "/times", "got true."),
        ({"status": 500, "times": None}, "/times", "got null."),
        ({"sequence": []}, "/sequence", "non-empty list of effects"),
        ({"sequence": {"status": 500}}, "/sequence", 'got {"status": 500}.'),
        ({"sequence": [5]}, "/sequence/0", "Each sequence item must be an object"),
        (
            {"sequence": [{"status": 503}, {"status": 404}]},
            "/sequence/1/status",
            "status must be 429, 500 or 503; got 404.",
        ),
        ({"sequence": [{}]}, "/sequence/0", "exactly one of status, latency, fault or pass"),
        ({"sequence": [{"pass": False}]}, "/sequence/0/pass", "pass must be true"),
        ({"sequence": [{"pass": 1}]}, "/sequence/0/pass", "got 1."),
        (
            {"sequence": [{"pass": True, "status": 500}]},
            "/sequence/0",
            "got status and pass.",
        ),
        (
            {"sequence": [{"status": 500, "method": "GET"}]},
            "/sequence/0/method",
            "matches, probability and times belong to the rule",
        ),
        (
            {"datacenter": "eu1", "sequence": [{"fault": "down"}]},
            "/sequence/0/fault",
            "give it as the rule's own fault",
        ),
        (
            {"sequence": [{"status": 500}, {"latency": {"fixed_ms": -1}}]},
            "/sequence/1/latency/fixed_ms",
            "got -1.",
        ),
        (
            {"sequence": [{"status": 500, "retry_after": 3}]},
            "/sequence/0/retry_after",
            "not 500",
        ),
    ],
)
def test_each_mistake_is_reported_at_its_pointer(
    data: dict[str, Any], pointer: str, detail: str
) -> None:
    [(found_pointer, found_detail)] = violations(data)
    assert found_pointer == pointer
    assert detail in found_detail


def test_a_lone_retry_after_names_both_the_missing_status_and_itself() -> None:
    assert [pointer for pointer, _ in violations({"retry_after": 5})] == ["", "/retry_after"]
    assert [pointer for pointer, _ in violations({"sequence": [{"retry_after": 5}]})] == [
        "/sequence/0",
        "/sequence/0/retry_after",
    ]


def test_pass_outside_a_sequence_is_refused_with_where_it_belongs() -> None:
    found = violations({"pass": True})
    assert [pointer for pointer, _ in found] == ["/pass", ""]
    assert "pass only belongs in a sequence item" in found[0][1]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_rule(
            {
                "method": "GET /",
                "path": "relative",
                "org": "nobody",
                "datacenter": "",
                "probability": 2,
                "times": 0,
                "speed": "fast",
                "sequence": [
                    {"status": 404},
                    {"latency": {"uniform": {"lower_ms": 9, "upper_ms": 1}, "max_ms": -1}},
                    {"pass": False},
                    {"fault": "melt"},
                    "pass",
                ],
            },
            "rule-1",
        )
    assert [v.pointer for v in caught.value.violations()] == [
        "/speed",
        "/method",
        "/path",
        "/org",
        "/datacenter",
        "/probability",
        "/times",
        "/sequence/0/status",
        "/sequence/1/latency/uniform/lower_ms",
        "/sequence/1/latency/max_ms",
        "/sequence/2/pass",
        "/sequence/3/fault",
        "/sequence/4",
    ]
    assert status_of(caught.value).code == 400  # answered as a Bad Request
    assert "status must be 429, 500 or 503; got 404." in caught.value.detail


def test_status_and_latency_problems_both_show_with_the_effect_count() -> None:
    found = violations({"status": 404, "latency": {"fixed_ms": -1}})
    assert [pointer for pointer, _ in found] == ["", "/status", "/latency/fixed_ms"]


def test_a_wrong_status_hides_the_retry_after_pairing_until_it_is_fixed() -> None:
    assert violations({"status": 404, "retry_after": 5}) == [
        ("/status", "status must be 429, 500 or 503; got 404.")
    ]


def test_values_json_cannot_show_are_shown_as_python_and_odd_keys_still_get_a_pointer() -> None:
    [(pointer, detail)] = violations({"status": {1, 2}})
    assert (pointer, detail) == ("/status", "status must be 429, 500 or 503; got {1, 2}.")
    [(pointer, detail)] = violations({"status": 500, 7: "seven"})
    assert (pointer, detail[:19]) == ("/7", "Unknown field 7: a ")


def test_long_values_are_shown_cut_short() -> None:
    [(_, detail)] = violations({"status": "x" * 500})
    # The value as JSON, cut to 60 characters: its quote, 56 of the x's, and "...".
    assert detail == 'status must be 429, 500 or 503; got "' + "x" * 56 + "...."


# Matching.


@pytest.mark.parametrize(
    ("match", "facts", "matches"),
    [
        ({}, GET, True),
        ({"method": "GET"}, GET, True),
        ({"method": "get"}, GET, True),
        ({"method": "GET"}, RequestFacts("get", "/api/v2/hamr"), True),
        ({"method": "POST"}, GET, False),
        ({"path": "/api/v2/hamr"}, GET, True),
        ({"path": "/api/v2/hamr"}, RequestFacts("GET", "/api/v2/hamr/pair"), False),
        ({"path": "/api/v2/hamr"}, RequestFacts("GET", "/api/v2/ham"), False),
        ({"path": "/api/v2/hamr/*"}, RequestFacts("GET", "/api/v2/hamr/pair"), True),
        ({"path": "/api/v2/hamr/*"}, RequestFacts("GET", "/api/v2/hamr/"), True),
        ({"path": "/api/v2/hamr/*"}, GET, False),
        ({"path": "/api/v2/hamr*"}, GET, True),
        ({"path": "/api/v2/hamr*"}, RequestFacts("GET", "/api/v2/hamrx"), True),
        ({"path": "/*"}, RequestFacts("GET", "/anything/at/all"), True),
        ({"path": "/API/v2/hamr"}, GET, False),
        ({"org": ORG}, GET, True),
        ({"org": ORG.upper()}, GET, True),
        ({"org": ORG}, RequestFacts("GET", "/", ORG.upper(), None), True),
        ({"org": OTHER_ORG}, GET, False),
        ({"org": ORG}, RequestFacts("GET", "/", None, "eu1"), False),
        ({"datacenter": "eu1"}, GET, True),
        ({"datacenter": "eu1.prod.dog"}, GET, True),
        ({"datacenter": "eu1"}, RequestFacts("GET", "/", None, "eu1.prod.dog"), True),
        ({"datacenter": "us1"}, GET, False),
        ({"datacenter": "eu1"}, RequestFacts("GET", "/", ORG, None), False),
        ({"method": "GET", "path": "/api/*", "org": ORG, "datacenter": "eu1"}, GET, True),
        ({"method": "GET", "path": "/api/*", "org": ORG, "datacenter": "us1"}, GET, False),
        ({"method": "PUT", "path": "/api/*", "org": ORG, "datacenter": "eu1"}, GET, False),
    ],
)
def test_a_rule_matches_on_each_field_it_sets(
    match: dict[str, Any], facts: RequestFacts, matches: bool
) -> None:
    rule = parse_rule({**match, "status": 500}, "rule-1")
    assert rule.matches(facts) is matches
    expected = StatusEffect(500) if matches else None
    assert effect_of(with_rules({**match, "status": 500}).pick(facts, random.Random(0))) == expected


# Probability.


def test_probability_zero_never_fires_and_draws_nothing() -> None:
    rules = with_rules({"probability": 0, "status": 500})
    rng = random.Random(1)
    state = rng.getstate()
    assert all(effect_of(rules.pick(GET, rng)) is None for _ in range(1000))
    assert rng.getstate() == state
    assert fired(rules) == [0]


def test_probability_one_always_fires_and_draws_nothing() -> None:
    rules = with_rules({"probability": 1.0, "status": 500})
    rng = random.Random(1)
    state = rng.getstate()
    assert all(effect_of(rules.pick(GET, rng)) == StatusEffect(500) for _ in range(1000))
    assert rng.getstate() == state
    assert fired(rules) == [1000]


def test_probability_one_half_fires_about_half_the_time() -> None:
    rules = with_rules({"probability": 0.5, "status": 500})
    rng = random.Random(20240601)
    hits = sum(effect_of(rules.pick(GET, rng)) is not None for _ in range(1000))
    assert 450 <= hits <= 550
    assert fired(rules) == [hits]


def test_a_rule_that_does_not_match_makes_no_draw() -> None:
    rules = with_rules({"probability": 0.5, "method": "POST", "status": 500})
    rng = random.Random(3)
    state = rng.getstate()
    assert effect_of(rules.pick(GET, rng)) is None
    assert rng.getstate() == state


def test_the_draw_follows_the_random_source() -> None:
    rules = with_rules({"probability": 0.3, "status": 500})
    draws = random.Random(42)
    expected = [draws.random() < 0.3 for _ in range(200)]
    rng = random.Random(42)
    assert [effect_of(rules.pick(GET, rng)) is not None for _ in range(200)] == expected


# Order, times and sequences.


def test_the_first_matching_rule_wins() -> None:
    rules = with_rules({"status": 503}, {"status": 429}, {"method": "GET", "status": 500})
    assert effect_of(rules.pick(GET, random.Random(0))) == StatusEffect(503)
    assert fired(rules) == [1, 0, 0]


def test_a_rule_that_does_not_match_leaves_the_request_to_later_rules() -> None:
    rules = with_rules({"method": "POST", "status": 503}, {"status": 429})
    assert effect_of(rules.pick(GET, random.Random(0))) == StatusEffect(429)
    assert fired(rules) == [0, 1]


def test_a_rule_whose_draw_misses_leaves_the_request_to_later_rules() -> None:
    rules = with_rules({"probability": 0, "status": 503}, {"status": 429})
    assert effect_of(rules.pick(GET, random.Random(0))) == StatusEffect(429)
    assert fired(rules) == [0, 1]


def test_a_half_chance_rule_shares_requests_with_the_rule_after_it() -> None:
    rules = with_rules({"probability": 0.5, "status": 503}, {"status": 429})
    rng = random.Random(7)
    answers = [effect_of(rules.pick(GET, rng)) for _ in range(1000)]
    assert set(answers) == {StatusEffect(503), StatusEffect(429)}
    first, second = fired(rules)
    assert first == answers.count(StatusEffect(503))
    assert second == 1000 - first
    assert 450 <= first <= 550


def test_times_limits_firings_and_then_later_rules_answer() -> None:
    rules = with_rules({"times": 2, "status": 503}, {"latency": {"fixed_ms": 5}})
    rng = random.Random(0)
    answers = [effect_of(rules.pick(GET, rng)) for _ in range(4)]
    assert answers == [
        StatusEffect(503),
        StatusEffect(503),
        LatencyEffect(FixedDelay(5)),
        LatencyEffect(FixedDelay(5)),
    ]
    assert fired(rules) == [2, 2]


def test_times_only_counts_requests_the_rule_fired_on() -> None:
    rules = with_rules({"times": 1, "method": "POST", "status": 503})
    rng = random.Random(0)
    assert effect_of(rules.pick(GET, rng)) is None
    assert effect_of(rules.pick(RequestFacts("POST", "/"), rng)) == StatusEffect(503)
    assert effect_of(rules.pick(RequestFacts("POST", "/"), rng)) is None
    assert fired(rules) == [1]


def test_a_sequence_answers_in_turn_passes_and_is_then_spent() -> None:
    rules = with_rules(
        {
            "sequence": [
                {"status": 503, "retry_after": 1},
                {"pass": True},
                {"latency": {"fixed_ms": 20}},
            ]
        },
        {"fault": "empty_response"},
    )
    rng = random.Random(0)
    assert effect_of(rules.pick(GET, rng)) == StatusEffect(503, 1)
    assert fired(rules) == [1, 0]
    assert effect_of(rules.pick(GET, rng)) is None  # the pass item: let through, but counted
    assert fired(rules) == [2, 0]
    assert effect_of(rules.pick(GET, rng)) == LatencyEffect(FixedDelay(20))
    assert fired(rules) == [3, 0]
    # Exhausted: the sequence is spent and the next rule answers.
    assert effect_of(rules.pick(GET, rng)) == ConnectionFault("empty_response")
    assert fired(rules) == [3, 1]


def test_an_exhausted_sequence_alone_lets_everything_through() -> None:
    rules = with_rules({"sequence": [{"status": 500}]})
    rng = random.Random(0)
    assert [effect_of(rules.pick(GET, rng)) for _ in range(3)] == [StatusEffect(500), None, None]
    assert fired(rules) == [1]


def test_a_sequence_stops_at_times_before_its_end() -> None:
    rules = with_rules({"times": 2, "sequence": [{"status": 500}, {"pass": True}, {"status": 503}]})
    rng = random.Random(0)
    assert [effect_of(rules.pick(GET, rng)) for _ in range(4)] == [
        StatusEffect(500),
        None,
        None,
        None,
    ]
    assert fired(rules) == [2]


def test_a_sequence_only_advances_when_its_draw_fires() -> None:
    rules = with_rules({"probability": 0.5, "sequence": [{"status": 500}, {"status": 503}]})
    rng = random.Random(11)
    answers = [effect_of(rules.pick(GET, rng)) for _ in range(50)]
    assert [answer for answer in answers if answer is not None] == [
        StatusEffect(500),
        StatusEffect(503),
    ]
    assert fired(rules) == [2]


def test_spent_is_about_times_and_the_end_of_a_sequence() -> None:
    limited = parse_rule({"times": 2, "status": 500}, "r")
    assert [limited.spent(n) for n in range(4)] == [False, False, True, True]
    unlimited = parse_rule({"status": 500}, "r")
    assert not unlimited.spent(10**9)
    sequence = parse_rule({"sequence": [{"status": 500}, {"pass": True}]}, "r")
    assert [sequence.spent(n) for n in range(3)] == [False, False, True]


# The rule set.


def test_rules_lists_documents_in_order_with_ids_and_fired_counts() -> None:
    rules = with_rules({"status": 503}, {"method": "post", "fault": "connection_reset"})
    effect_of(rules.pick(GET, random.Random(0)))
    assert rules.rules() == [
        {"id": "rule-1", "probability": 1, "status": 503, "fired": 1},
        {
            "id": "rule-2",
            "method": "POST",
            "probability": 1,
            "fault": "connection_reset",
            "fired": 0,
        },
    ]


def test_add_returns_the_rule_with_the_next_id() -> None:
    rules = FaultRules()
    first = rules.add({"status": 500})
    second = rules.add({"status": 503})
    assert (first.id, second.id) == ("rule-1", "rule-2")
    assert first == parse_rule({"status": 500}, "rule-1")


def test_a_refused_rule_is_not_added_and_uses_no_id() -> None:
    rules = FaultRules()
    with pytest.raises(ValidationFailed):
        rules.add({"status": 404})
    assert rules.rules() == []
    assert effect_of(rules.pick(GET, random.Random(0))) is None
    assert rules.add({"status": 500}).id == "rule-1"


def test_remove_drops_one_rule_and_says_whether_it_was_there() -> None:
    rules = with_rules({"status": 503}, {"status": 429}, {"status": 500})
    assert rules.remove("rule-1") is True
    assert rules.remove("rule-1") is False
    assert rules.remove("rule-99") is False
    assert [document["id"] for document in rules.rules()] == ["rule-2", "rule-3"]
    assert effect_of(rules.pick(GET, random.Random(0))) == StatusEffect(429)


def test_clear_drops_everything_says_how_many_and_ids_keep_counting() -> None:
    rules = with_rules({"status": 503}, {"status": 429})
    assert rules.clear() == 2
    assert rules.clear() == 0
    assert rules.rules() == []
    assert effect_of(rules.pick(GET, random.Random(0))) is None
    assert rules.add({"status": 500}).id == "rule-3"
    assert fired(rules) == [0]


def test_no_rules_means_no_effect_and_no_draw() -> None:
    rules = FaultRules()
    rng = random.Random(5)
    state = rng.getstate()
    assert effect_of(rules.pick(GET, rng)) is None
    assert rng.getstate() == state


def test_concurrent_picks_never_fire_a_rule_more_than_its_times() -> None:
    rules = with_rules({"times": 100, "status": 503})
    answers: list[object] = []
    lock = threading.Lock()

    def pick_many() -> None:
        rng = random.Random(0)
        found = [effect_of(rules.pick(GET, rng)) for _ in range(50)]
        with lock:
            answers.extend(found)

    threads = [threading.Thread(target=pick_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(StatusEffect(503)) == 100
    assert answers.count(None) == 300
    assert fired(rules) == [100]


# Delays.


def test_a_fixed_delay_is_exactly_its_value() -> None:
    effect = LatencyEffect(FixedDelay(200))
    rng = random.Random(0)
    assert {effect.delay_ms(rng) for _ in range(100)} == {200.0}


def test_a_uniform_delay_stays_within_its_bounds_and_spreads_across_them() -> None:
    effect = LatencyEffect(UniformDelay(10, 50))
    rng = random.Random(99)
    delays = [effect.delay_ms(rng) for _ in range(1000)]
    assert all(10 <= delay <= 50 for delay in delays)
    assert 28 <= statistics.fmean(delays) <= 32
    assert min(delays) < 12
    assert max(delays) > 48


def test_a_lognormal_delay_is_the_median_scaled_by_a_gaussian_exponent() -> None:
    effect = LatencyEffect(LognormalDelay(100, 0.5))
    gauss = random.Random(8).gauss(0.0, 1.0)
    assert effect.delay_ms(random.Random(8)) == pytest.approx(100 * math.exp(0.5 * gauss))


def test_lognormal_delays_centre_on_their_median() -> None:
    effect = LatencyEffect(LognormalDelay(100, 0.5))
    rng = random.Random(2024)
    delays = [effect.delay_ms(rng) for _ in range(2001)]
    assert 93 <= statistics.median(delays) <= 107
    assert all(delay > 0 for delay in delays)
    # A long right tail: about 8% lie above twice the median (z > ln 2 / 0.5).
    above = sum(delay > 200 for delay in delays) / len(delays)
    assert 0.05 <= above <= 0.12


@pytest.mark.parametrize(
    "delay",
    [FixedDelay(200), UniformDelay(10, 50), LognormalDelay(100, 1.5)],
)
def test_max_ms_caps_every_delay(delay: FixedDelay | UniformDelay | LognormalDelay) -> None:
    effect = LatencyEffect(delay, max_ms=30)
    rng = random.Random(4)
    delays = [effect.delay_ms(rng) for _ in range(500)]
    assert max(delays) == 30
    assert all(0 <= found <= 30 for found in delays)


def test_a_cap_above_the_delay_changes_nothing() -> None:
    assert LatencyEffect(FixedDelay(20), max_ms=1000).delay_ms(random.Random(0)) == 20


class _TailRandom(random.Random):
    """A source whose every gaussian draw is one standard deviation up."""

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return mu + sigma


def test_a_lognormal_tail_beyond_any_float_is_infinite_unless_capped() -> None:
    huge = LognormalDelay(100, 1e300)
    assert LatencyEffect(huge).delay_ms(_TailRandom(0)) == math.inf
    assert LatencyEffect(huge, max_ms=5000).delay_ms(_TailRandom(0)) == 5000


def test_parsed_latency_draws_as_documented() -> None:
    effect = parse_rule({"latency": {"fixed_ms": 200, "max_ms": 150}}, "r").effects[0]
    assert isinstance(effect, LatencyEffect)
    assert effect.delay_ms(random.Random(0)) == 150


# A datacenter that is down.


def test_a_down_rule_takes_its_datacenter_down_in_either_spelling() -> None:
    rules = with_rules({"datacenter": "eu1", "fault": "down"})
    assert rules.datacenter_down("eu1") is True
    assert rules.datacenter_down("eu1.prod.dog") is True
    assert rules.datacenter_down("us1") is False
    assert fired(rules) == [0]  # asking counts nothing


def test_only_a_down_fault_takes_a_datacenter_down() -> None:
    rules = with_rules(
        {"datacenter": "eu1", "fault": "connection_reset"},
        {"datacenter": "eu1", "status": 503},
        {"fault": "empty_response"},
    )
    assert rules.datacenter_down("eu1") is False


def test_a_datacenter_comes_back_when_its_down_rule_is_spent_or_removed() -> None:
    rules = with_rules(
        {"datacenter": "eu1", "fault": "down", "times": 1},
        {"datacenter": "us1", "fault": "down"},
    )
    assert rules.datacenter_down("eu1") is True
    assert effect_of(rules.pick(RequestFacts("GET", "/", None, "us5"), random.Random(0))) is None
    assert effect_of(rules.pick(GET, random.Random(0))) == ConnectionFault("down")
    assert rules.datacenter_down("eu1") is False
    assert rules.datacenter_down("us1") is True
    assert rules.remove("rule-2") is True
    assert rules.datacenter_down("us1") is False


def test_no_rules_means_no_datacenter_is_down() -> None:
    assert FaultRules().datacenter_down("eu1") is False


def test_a_firing_names_the_rule_that_answered() -> None:
    rules = FaultRules()
    rules.add({"path": "/nowhere", "status": 500})
    rules.add({"status": 503})
    assert rules.pick(GET, random.Random(0)) == Firing("rule-2", StatusEffect(503))


def test_rules_are_in_force_from_the_first_added_until_the_last_goes() -> None:
    rules = FaultRules()
    assert not rules.in_force
    rules.add({"status": 500})
    assert rules.in_force
    rules.clear()
    assert not rules.in_force


@pytest.mark.parametrize(
    ("rule", "needs_caller"),
    [
        ({"status": 500}, False),
        ({"method": "GET", "path": "/api/*", "status": 500}, False),
        ({"org": "5b6f4c9e-0000-4000-8000-000000000001", "status": 500}, True),
        ({"datacenter": "us1", "status": 500}, True),
    ],
)
def test_the_caller_is_needed_only_when_a_rule_matches_on_org_or_datacenter(
    rule: dict[str, Any], needs_caller: bool
) -> None:
    rules = FaultRules()
    rules.add(rule)
    assert rules.match_on_caller is needs_caller


def test_listeners_hear_of_every_change() -> None:
    rules = FaultRules()
    heard: list[int] = []
    rules.subscribe(lambda: heard.append(len(rules.rules())))
    added = rules.add({"status": 500})
    rules.add({"status": 503})
    rules.remove(added.id)
    rules.remove("rule-99")  # nothing to remove: nothing changed
    rules.clear()
    assert heard == [1, 2, 1, 0]


def test_a_list_of_rules_is_added_all_or_none_with_pointers_into_the_list() -> None:
    rules = FaultRules()
    with pytest.raises(ValidationFailed) as refused:
        rules.add_all([{"status": 500}, {"status": 418}, {"fault": "gremlins"}])
    pointers = [v.pointer for v in refused.value.violations()]
    assert pointers == ["/1/status", "/2/fault"]
    assert rules.rules() == []
    added = rules.add_all([{"status": 500}, {"method": "POST", "status": 503}])
    assert [rule.id for rule in added] == ["rule-1", "rule-2"]
