"""common.strict_json: a key twice in one object, at any depth, is refused and named; any
other JSON reads exactly as orjson reads it."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import strict_json

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "key", "path"),
    [
        (b'{"actorId":"alice","actorId":"mallory"}', "actorId", "actorId"),
        (b'{"a": 1, "a" : 2}', "a", "a"),
        (b'{"events":[{"x":1},{"y":{"k":1,"k":2}}]}', "k", "events.1.y.k"),
        (b'[{"a":1},{"b":1,"b":1}]', "b", "1.b"),
        (b'{"a":1,"\\u0061":2}', "a", "a"),  # equal once unescaped
        (b'{"t":"x\\"y","t":"z"}', "t", "t"),
    ],
)
def test_a_duplicated_key_is_named(text: bytes, key: str, path: str) -> None:
    with pytest.raises(strict_json.DuplicateKey) as info:
        strict_json.loads(text)
    assert (info.value.key, info.value.path) == (key, path)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "text",
    [b'{"a":"\\"b\\":","b":1}', b'{"a":{"a":{"a":1}}}', b'[{"a":1},{"a":2}]',
     b'{"occurredAt":"2026-11-21T12:00:00Z","k:":"v:"}', b'"\\":"', b"1", b"[]", b"{}",
     b'{"\\\\":1,"\\\\\\"":2}'],
)
def test_no_false_alarm(text: bytes) -> None:
    assert strict_json.loads(text) == orjson.loads(text)


def test_deep_nesting_is_counted_without_recursion() -> None:
    depth = 1000
    text = b'{"a":' * depth + b"1" + b"}" * depth
    value = strict_json.loads(text)
    for _ in range(depth):
        assert list(value) == ["a"]
        value = value["a"]
    assert value == 1
    duplicated = b'{"a":' * depth + b'{"b":1,"b":2}' + b"}" * depth
    with pytest.raises(strict_json.DuplicateKey):
        strict_json.loads(duplicated)


def test_not_json_is_orjsons_error() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        strict_json.loads(b'{"a":1,')


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False,
                                                                        allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=100, deadline=None, database=None)
@given(JSON)
def test_any_json_without_duplicates_reads_as_orjson_reads_it(value: object) -> None:
    text = orjson.dumps(value)
    assert strict_json.loads(text) == orjson.loads(text)


@settings(max_examples=100, deadline=None, database=None)
@given(st.dictionaries(st.text(max_size=10), JSON, min_size=1, max_size=5), st.data())
def test_any_object_with_a_repeated_key_is_refused(obj: dict[str, object],
                                                    data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    text = orjson.dumps(obj)
    repeated = text[:-1] + b"," + orjson.dumps(key) + b":" + orjson.dumps(obj[key]) + b"}"
    wrapped = b'{"events":[' + repeated + b"]}"
    with pytest.raises(strict_json.DuplicateKey) as info:
        strict_json.loads(wrapped)
    assert info.value.key == key
