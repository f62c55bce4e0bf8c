"""Phone numbers and SMS ports in the text, and classification of the sender field."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectguard.extract import classify_sender, extract
from collectguard.extract._phones import _classify_plain_number, _classify_sender_text
from collectguard.normalize import normalize


def phones(text: str) -> list[tuple[str, str, str]]:
    ex = extract(normalize(text))
    for p in ex.phones:
        assert text[p.span[0] : p.span[1]] == p.text
    return [(p.text, p.digits, p.kind) for p in ex.phones]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("如有疑问请致电95588。", [("95588", "95588", "service_95")]),
        ("客服956023为您服务", [("956023", "956023", "service_95")]),
        ("反诈专线96110提醒您", [("96110", "96110", "service_96")]),
        ("请拨打客服：4001622772。", [("4001622772", "4001622772", "service_400")]),
        ("客服热线400-119-5508", [("400-119-5508", "4001195508", "service_400")]),
        ("免费电话800-820-8820", [("800-820-8820", "8008208820", "service_800")]),
        ("端口1069089786401发送", [("1069089786401", "1069089786401", "sms_port")]),
        ("垃圾短信请向12321举报", [("12321", "12321", "short_service")]),
        ("投诉请拨12378", [("12378", "12378", "short_service")]),
        ("中国移动10086提醒", [("10086", "10086", "short_service")]),
        ("请拨打1010-9955", [("1010-9955", "10109955", "short_service")]),
        ("遇到诈骗请拨打110报警", [("110", "110", "short_service")]),
        ("联系人13800138000", [("13800138000", "13800138000", "mobile")]),
        ("请联系 138 0013 8000", [("138 0013 8000", "13800138000", "mobile")]),
        ("请联系138-0013-8000", [("138-0013-8000", "13800138000", "mobile")]),
        ("服務電話:0774-2280700", [("0774-2280700", "07742280700", "landline")]),
        ("详询请回电02180163503。", [("02180163503", "02180163503", "landline")]),
        ("电话(021) 5386-6655", [("(021) 5386-6655", "02153866655", "landline")]),
        ("请拨+86 21 5386 6655", [("+86 21 5386 6655", "+862153866655", "landline")]),
        ("号码+8613800138000", [("+8613800138000", "+8613800138000", "mobile")]),
        ("CALL 866.597.3075 NOW", [("866.597.3075", "8665973075", "international")]),
        ("call me back at 1-866-862-2789.", [("1-866-862-2789", "18668622789", "international")]),
        ("Please call 913-362-3950 today", [("913-362-3950", "9133623950", "international")]),
        ("LTD +254720856052", [("+254720856052", "+254720856052", "international")]),
        ("您的手机138****1234已绑定", [("138****1234", "138****1234", "mobile")]),
        ("联系人139xxxx5678", [("139xxxx5678", "139****5678", "mobile")]),
        (
            "两个号码：95588 10086",
            [("95588", "95588", "service_95"), ("10086", "10086", "short_service")],
        ),
        ("客服电话：88886666", [("88886666", "88886666", "unknown")]),
        # Not phones: amounts, dates, times, card tails, codes, orders, IDs, quantities.
        ("余额1,000.28元", []),
        ("消费13.20元，余额95000", []),
        ("截至20140301您的账户已逾期", []),
        ("您尾号3675的信用卡于12月27日11:27消费", []),
        ("您的验证码953421，5分钟内有效", []),
        ("（953421）微信验证码", []),
        ("Your verification code is 953421.", []),
        ("您的订单2537489474已发货", []),
        ("身份证110101199003074514", []),
        ("您已逾期110天", []),
        ("您累计131580分即将过期", []),
        ("第12345期", []),
        ("版本1.2.3", []),
        ("V2EX 321063", []),
        ("My extension is 281.", []),
        ("网址n.95508.com/abc", []),
        ("2024 10 05", []),
    ],
)
def test_phones(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert phones(text) == expected


@pytest.mark.parametrize(
    ("text", "carrier", "region", "masked"),
    [
        ("13800138000", "china_mobile", None, False),
        ("18612345678", "china_unicom", None, False),
        ("18912345678", "china_telecom", None, False),
        ("19212345678", "china_broadnet", None, False),
        ("17012345678", "virtual", None, False),
        ("16212345678", "virtual", None, False),
        ("13491234567", "china_telecom", None, False),
        ("138****1234", "china_mobile", None, True),
        ("0774-2280700", None, "0774", False),
        ("010-88886666", None, "010", False),
        ("+12035638713", None, "US", False),
    ],
)
def test_phone_attributes(text: str, carrier: str | None, region: str | None, masked: bool) -> None:
    (p,) = extract(normalize("电话" + text)).phones
    assert (p.carrier, p.region, p.masked) == (carrier, region, masked)


@pytest.mark.parametrize(
    ("sender", "kind", "digits", "personal", "note"),
    [
        ("95588", "service_95", "95588", False, None),
        ("10693495555", "sms_port", "10693495555", False, None),
        ("106980095508", "sms_port", "106980095508", False, None),
        ("1065502010095555", "sms_port", "1065502010095555", False, None),
        ("96268", "service_96", "96268", False, None),
        ("12329", "short_service", "12329", False, None),
        ("+12035638713", "international", "+12035638713", False, None),
        ("13800138000", "mobile", "13800138000", True, None),
        ("+86 138 0013 8000", "mobile", "+8613800138000", True, None),
        ("021-53866655", "landline", "02153866655", True, None),
        ("4001622772", "service_400", "4001622772", False, None),
        ("95188(伪基站冒用)", "service_95", "95188", False, "伪基站冒用"),
        ("95188（伪基站冒用）", "service_95", "95188", False, "伪基站冒用"),
        ("106开头号码(全号未公开)", "sms_port", "106", False, "开头号码; 全号未公开"),
        ("288401", "unknown", "288401", False, None),
        ("长串数字号码", "unknown", None, False, None),
        ("建设银行", "name", None, False, None),
        ("Twitter", "name", None, False, None),
        ("", "unknown", None, False, None),
    ],
)
def test_classify_sender(
    sender: str, kind: str, digits: str | None, personal: bool, note: str | None
) -> None:
    info = classify_sender(sender)
    assert (info.kind, info.digits, info.is_personal, info.note) == (kind, digits, personal, note)


def test_classify_sender_name_keeps_text_and_note() -> None:
    info = classify_sender("Credit Services (employee Bill), voicemail")
    assert info.kind == "name"
    assert info.name == "Credit Services, voicemail"
    assert info.note == "employee Bill"


def test_classify_sender_mobile_carrier() -> None:
    assert classify_sender("17112345678").carrier == "virtual"


_PREFIXES = [
    "",
    "1",
    "13",
    "17",
    "19",
    "106",
    "1069",
    "95",
    "96",
    "400",
    "800",
    "0",
    "01",
    "021",
    "0086",
    "00",
    "100",
    "12",
    "1010",
    "110",
    "86",
]


@given(st.sampled_from(_PREFIXES), st.text(alphabet="0123456789", max_size=18))
@settings(max_examples=600, deadline=None)
def test_plain_number_sender_takes_the_short_path_to_the_same_answer(
    prefix: str, rest: str
) -> None:
    sender = prefix + rest
    if not sender:
        return
    assert _classify_plain_number(sender) == _classify_sender_text(sender)
    assert classify_sender(sender) == _classify_sender_text(sender)


@pytest.mark.parametrize(
    "sender", ["１３８００１３８０００", " 13800138000", "13800138000 ", "+8613800138000"]
)
def test_senders_that_are_not_plain_ascii_digits_take_the_full_path(sender: str) -> None:
    assert classify_sender(sender) == _classify_sender_text(sender)
    assert classify_sender(sender).digits is not None
