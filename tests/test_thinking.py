import pytest

from svdistill.thinking import split_thinking


@pytest.mark.parametrize(
    "text, reasoning, final",
    [
        ("The answer is 4.", None, "The answer is 4."),
        ("<think>2+2=4</think>\nThe answer is 4.", "2+2=4", "The answer is 4."),
        ("<think>a</think>mid</think> end", "a</think>mid", "end"),
        ("<think>still thinking when cut off", "still thinking when cut off", ""),
        ("", None, ""),
    ],
)
def test_split_thinking(text, reasoning, final):
    assert split_thinking(text) == (reasoning, final)
