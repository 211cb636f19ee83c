"""Douyin request signing, pinned against the documented formula computed independently here."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from server.channels.connectors.douyin import signing

# The public-parameter example of the Douyin "API调用指南": app_key, method, param_json and a
# Beijing-time timestamp. The guide gives no sign for it, so the expected values below are the
# documented concatenation hashed by hand (and pinned as literals so a change cannot go unnoticed).
APP_KEY = "3409409348479354011"
SECRET = "app-secret-xyz"
METHOD = "product.getGoodsCategory"
TIMESTAMP = "2020-09-15 14:48:13"
PARAM_JSON = '{"cid":"12","page":"1"}'
PATTERN = (SECRET + "app_key" + APP_KEY + "method" + METHOD + "param_json" + PARAM_JSON
           + "timestamp" + TIMESTAMP + "v" + "2" + SECRET)


def test_param_json_of_the_documented_example():
    assert signing.param_json({"page": "1", "cid": "12"}) == PARAM_JSON


def test_md5_sign_matches_the_documented_formula():
    expected = hashlib.md5(PATTERN.encode("utf-8")).hexdigest()
    got = signing.sign(APP_KEY, SECRET, METHOD, PARAM_JSON, TIMESTAMP)
    assert got == expected == "6d3559bae9f282760814845387825862"


def test_hmac_sha256_sign_matches_the_documented_formula():
    expected = hmac.new(SECRET.encode(), PATTERN.encode("utf-8"), hashlib.sha256).hexdigest()
    got = signing.sign(APP_KEY, SECRET, METHOD, PARAM_JSON, TIMESTAMP, sign_method="hmac-sha256")
    assert got == expected == "972a17c5fc6998a7e74472a1dfe0e280ea52e98ffe04668d01b47c608e48cfc6"


def test_sign_is_lower_case_hex():
    for method in signing.SIGN_METHODS:
        value = signing.sign(APP_KEY, SECRET, METHOD, PARAM_JSON, TIMESTAMP, sign_method=method)
        assert value == value.lower() and int(value, 16) >= 0


def test_unknown_sign_method_is_refused():
    with pytest.raises(ValueError):
        signing.sign(APP_KEY, SECRET, METHOD, PARAM_JSON, TIMESTAMP, sign_method="sha1")


def test_keys_are_sorted_at_every_depth_and_there_are_no_spaces():
    params = {"size": 100, "page": 0, "combine_status": [{"order_status": "2", "main_status": "2"}],
              "b": {"y": [1, 2], "x": {"d": True, "c": None}}}
    assert signing.param_json(params) == (
        '{"b":{"x":{"c":null,"d":true},"y":[1,2]},'
        '"combine_status":[{"main_status":"2","order_status":"2"}],"page":0,"size":100}')


def test_unicode_is_written_as_is_and_spaces_inside_values_are_kept():
    text = signing.param_json({"name": "茶具 礼盒", "note": "<a&b> / ok"})
    assert text == '{"name":"茶具 礼盒","note":"<a&b> / ok"}'     # no \\u escapes, no HTML escaping
    pattern = signing.sign_pattern("k", "s", "m", text, "1")
    assert hashlib.md5(pattern.encode("utf-8")).hexdigest() == signing.sign("k", "s", "m", text, "1")


def test_numbers_serialize_like_the_go_sdk():
    assert signing.param_json({"a": 100.0, "b": 1.5, "c": 7, "d": False}) == '{"a":100,"b":1.5,"c":7,"d":false}'


def test_line_separators_are_escaped_like_go():
    assert signing.param_json({"t": "a\u2028b"}) == '{"t":"a\\u2028b"}'


def test_empty_params_are_an_empty_object():
    assert signing.param_json(None) == "{}"
    assert signing.param_json({}) == "{}"


def test_method_path():
    assert signing.method_path("order.searchList") == "/order/searchList"
    assert signing.method_path("sku.syncStock") == "/sku/syncStock"


def test_access_token_is_not_signed():
    common = dict(app_key=APP_KEY, app_secret=SECRET, method=METHOD, pj=PARAM_JSON, timestamp=TIMESTAMP)
    one = signing.signed_query(access_token="token-1", **common)
    two = signing.signed_query(access_token="token-2", **common)
    assert one["sign"] == two["sign"]
    assert one["access_token"] == "token-1"
    assert one["sign_method"] == "hmac-sha256" and one["v"] == "2" and one["method"] == METHOD
