"""Signing for the TOP / JOS / POP gateways, checked against the platforms' published examples."""
from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from server.channels.connectors._gateway import backward_pages, clean_params, looks_masked, time_windows
from server.channels.connectors.jd import signing as jd
from server.channels.connectors.pinduoduo import signing as pdd
from server.channels.connectors.taobao import signing as taobao

# TOP's documented example (open.taobao.com "API 签名算法")
TOP_PARAMS = {
    "app_key": "12345678", "fields": "num_iid,title,nick,price,num", "format": "json",
    "method": "taobao.item.seller.get", "num_iid": "11223344", "session": "test", "sign_method": "md5",
    "timestamp": "2016-01-01 12:00:00", "v": "2.0",
}
TOP_BASE = ("app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get"
            "num_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0")


def test_taobao_md5_matches_the_documented_example():
    assert taobao.sign(TOP_PARAMS, "helloworld", "md5") == "66987CB115214E59E6EC978214934FB8"


def test_taobao_md5_is_secret_wrapped_md5_of_sorted_pairs():
    expected = hashlib.md5(f"helloworld{TOP_BASE}helloworld".encode()).hexdigest().upper()
    assert taobao.sign(TOP_PARAMS, "helloworld", "md5") == expected


def test_taobao_hmac_is_hmac_md5_without_wrapping():
    params = {**TOP_PARAMS, "sign_method": "hmac"}
    base = TOP_BASE.replace("sign_methodmd5", "sign_methodhmac")
    expected = hmac.new(b"helloworld", base.encode(), hashlib.md5).hexdigest().upper()
    assert taobao.sign(params, "helloworld", "hmac") == expected
    assert expected != taobao.sign(params, "helloworld", "md5")


def test_taobao_sign_ignores_the_sign_param_and_rejects_unknown_methods():
    assert taobao.sign({**TOP_PARAMS, "sign": "X"}, "helloworld") == "66987CB115214E59E6EC978214934FB8"
    with pytest.raises(ValueError):
        taobao.sign(TOP_PARAMS, "helloworld", "sha1")


def test_taobao_signed_params_carry_system_params_and_chinese_values():
    at = datetime(2024, 5, 7, 1, 20, 39, tzinfo=UTC)
    params = taobao.signed_params(method="taobao.trade.fullinfo.get", app_key="k", secret="s", session="sess",
                                  sign_method="md5", timestamp=at, business={"tid": 123, "memo": "加急", "x": ""})
    assert params["timestamp"] == "2024-05-07 09:20:39"   # Beijing wall time
    assert params["v"] == "2.0" and params["format"] == "json" and "x" not in params
    body = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    assert params["sign"] == hashlib.md5(f"s{body}s".encode()).hexdigest().upper()


def test_jd_published_example():
    params = {
        "360buy_param_json": '{"end_date":null,"optional_fields":null,"order_state":"WAIT_SELLER_STOCK_OUT",'
                             '"page":"1","page_size":"200","start_date":null}',
        "access_token": "yourtoken", "app_key": "yourappkey", "method": "jingdong.pop.order.search",
        "timestamp": "2021-05-07 09:20:39.683+0800", "v": "2.0",
    }
    assert jd.sign(params, "yourappSecret") == "D70825340F4084360B9362B60DFD7930"
    # format and sign_method are not signed
    assert jd.sign({**params, "format": "json", "sign_method": "md5"}, "yourappSecret") == \
        "D70825340F4084360B9362B60DFD7930"


def test_jd_timestamp_format_round_trips():
    at = datetime(2021, 5, 7, 1, 20, 39, 683000, tzinfo=UTC)
    assert jd.timestamp(at) == "2021-05-07 09:20:39.683+0800"
    assert jd.parse_timestamp("2021-05-07 09:20:39.683+0800") == at
    assert jd.parse_timestamp("2021-05-07 09:20:39") == at.replace(microsecond=0)
    assert jd.parse_timestamp("yesterday") is None


def test_jd_signed_params_sign_the_json_string_as_sent():
    at = datetime(2021, 5, 7, 1, 20, 39, 683000, tzinfo=UTC)
    params = jd.signed_params(method="jingdong.pop.order.search", app_key="a", secret="s", access_token="t",
                              at=at, business={"order_state": "WAIT_SELLER_STOCK_OUT", "page": "1"})
    assert params["360buy_param_json"] == '{"order_state":"WAIT_SELLER_STOCK_OUT","page":"1"}'
    assert params["sign"] == jd.sign(params, "s")
    assert jd.response_key("jingdong.stock.write.updateSkuStock") == "jingdong_stock_write_updateSkuStock_responce"


def test_pdd_published_example():
    params = {
        "access_token": "asd78172s8ds9a921j9qqwda12312w1w21211", "client_id": "1", "data_type": "XML",
        "order_status": "1", "page": "1", "page_size": "10", "timestamp": "1480411125",
        "type": "pdd.order.number.list.get",
    }
    assert pdd.sign(params, "testSecret") == "E4DE3ED21002510DED352819E7AE6775"


def test_pdd_signed_params_use_unix_seconds_and_strings():
    at = datetime(2016, 11, 29, 9, 18, 45, tzinfo=UTC)
    params = pdd.signed_params(method="pdd.order.number.list.increment.get", client_id="1", secret="x",
                               access_token="t", at=at, business={"page": 2, "use_has_next": False})
    assert params["timestamp"] == "1480411125" and params["page"] == "2" and params["use_has_next"] == "false"
    assert params["sign"] == pdd.sign(params, "x")


def test_clean_params_drops_empty_values_and_stringifies():
    assert clean_params({"a": None, "b": "", "c": 0, "d": True, "e": [1, "二"]}) == {
        "c": "0", "d": "true", "e": '[1,"二"]'}


def test_time_windows_cover_the_range_in_whole_seconds():
    since = datetime(2024, 5, 1, 0, 0, 0, 500000, tzinfo=UTC)
    windows = time_windows(since, since + timedelta(minutes=70), timedelta(minutes=30))
    assert [(a.minute, b.minute) for a, b in windows] == [(0, 30), (30, 0), (0, 10)]
    assert all(b - a <= timedelta(minutes=30) and a.microsecond == 0 for a, b in windows)
    assert time_windows(since, since, timedelta(minutes=30)) == []


def test_backward_pages_start_at_the_last_page():
    assert backward_pages(0, 100) == []
    assert backward_pages(100, 100) == [1]
    assert backward_pages(201, 100) == [3, 2, 1]


def test_masking_detection():
    assert looks_masked("张**") and looks_masked("138****5678")
    assert looks_masked("~AgAAAAECDAoAbCdEfG==~1~")
    assert not looks_masked("张三", "13812345678", "文三路 1 号")
