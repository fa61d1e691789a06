import pytest

from app.core.errors import InvalidRequestError
from app.core.validation import check_embedding_input, check_messages, check_params


@pytest.mark.parametrize("messages", [None, [], "hello", [{"role": "robot", "content": "x"}], [{"role": "user"}],
                                      ["hi"], [{"role": "user", "content": 3}]])
def test_bad_messages(messages):
    with pytest.raises(InvalidRequestError):
        check_messages(messages)


@pytest.mark.parametrize("params", [{"temperature": 3}, {"temperature": "hot"}, {"max_tokens": 0},
                                    {"max_tokens": -5}, {"max_tokens": 1.5}, {"top_p": 2}, {"n": True}])
def test_bad_params(params):
    with pytest.raises(InvalidRequestError, match=next(iter(params))):
        check_params(params)


def test_good_input_passes():
    assert check_messages([{"role": "user", "content": "Hello"}]) == [{"role": "user", "content": "Hello"}]
    check_params({"temperature": 0.7, "max_tokens": 10})
    assert check_embedding_input("a") == ["a"]
    with pytest.raises(InvalidRequestError):
        check_embedding_input(["a", ""])


# ----- input that cannot be sent (issue 10, section 4) -----------------------------------------------

BAD_INPUT = [
    ({"messages": [{"role": "user", "content": "x\ud800y"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x\ud800"}]}]}, "messages[0].content[0].text"),
    ({"temperature": float("nan")}, "temperature"),
    ({"top_p": float("nan")}, "top_p"),
    ({"seed": float("inf")}, "seed"),
    ({"seed": 10**30}, "seed"),
    ({"model": "gpt\ud800"}, "model"),
    ({"model": "модель-😀"}, "model"),
    ({"model": "gpt-4o\r\nx-injected: 1"}, "model"),
    ({"model": "m" * 100_000}, "model"),
    ({"fallbacks": ["anthropic/claude\n"]}, "fallbacks[0]"),
    ({"metadata": {"role": "a\ud800"}}, "metadata.role"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUT, ids=[f for _, f in BAD_INPUT])
async def test_input_that_cannot_be_sent_is_refused_naming_the_field_before_any_call(change, field):
    from app.core.errors import InvalidRequestError
    from app.core.manager import PortkeyManager
    from app.core.settings import load_settings
    from tests.unit.fake_gateway import URL, FakeGateway
    from tests.unit.test_failover import HOSTS, KEYS

    gateway = FakeGateway()
    manager = PortkeyManager(load_settings(_env_file=None, portkey_base_url=URL, **KEYS, **HOSTS),
                             transport=gateway.transport())
    call = {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(InvalidRequestError) as caught:
        await manager.acreate_completion(**call)
    assert field in str(caught.value) and gateway.requests == []


async def test_an_embedding_input_or_agent_name_with_a_lone_surrogate_is_refused():
    from app.agents.base import check_text
    from app.core.errors import InvalidRequestError
    from app.core.validation import check_embedding_input

    with pytest.raises(InvalidRequestError, match=r"input\[1\]"):
        check_embedding_input(["fine", "x\ud800y"])
    with pytest.raises(InvalidRequestError, match="name"):
        check_text("agent\ud800", "name")
