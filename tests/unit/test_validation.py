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
