"""The request bodies `fsabench serve` accepts, as pydantic models: anything else is refused.

Unknown fields and wrong types are validation errors (answered 400 in OpenAI's error shape, naming
the field, as vLLM does). OpenAI parameters the server does not implement are accepted only at
their neutral value (`temperature: 0`, `top_p: 1`, `n: 1`, ...); anything else is refused with 400
by `unsupported()`, never silently ignored: the server decodes greedily, one answer per prompt.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

MAX_PROMPTS = 256  # prompts in one /v1/completions request (bounds the work one body can cause)
MAX_MESSAGES = 256
MAX_STOPS = 4  # as OpenAI
MAX_STOP_CHARS = 1000  # one stop string (a streamed answer holds back len(stop) - 1 characters)
MAX_PARTS = 256  # content parts of one message
MAX_PROMPT_TOKENS = 32_768  # token ids in one prompt (the model's window is checked later)
MAX_LOGPROBS = 20  # alternatives per position (vLLM's default cap; OpenAI's is 5)
MAX_ITEMS = 128  # entries of the knobs only accepted at their neutral value (tools, logit_bias, ...)
# Every list and dict is bounded *inside* its type (`at_most`), refused before its items are looked at:
# a prompt list of a million ints used to collect a million errors (~1 s on the event loop, every client waiting).


def _valid_unicode(text: str) -> str:
    """JSON's \\ud800 escapes decode to lone surrogates, which no tokenizer can encode (a 500 before)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"holds a lone surrogate (\\u{ord(text[exc.start]):04x} at character {exc.start}); "
                         "send valid UTF-16 pairs") from None
    return text


def at_most(limit: int) -> BeforeValidator:
    """Refuse a list or dict longer than `limit` before any of its items is validated (pydantic checks
    a dict's max_length only after validating every entry, collecting one error per bad entry)."""
    def check(value: Any) -> Any:
        if isinstance(value, (list, dict)) and len(value) > limit:
            raise ValueError(f"at most {limit} entries, not {len(value):,}")
        return value
    return BeforeValidator(check)


Text = Annotated[StrictStr, AfterValidator(_valid_unicode)]  # every string a client sends
StopText = Annotated[StrictStr, Field(max_length=MAX_STOP_CHARS), AfterValidator(_valid_unicode)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TextPart(Strict):
    type: Literal["text"]
    text: Text


class Message(Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: Union[Text, Annotated[list[TextPart], at_most(MAX_PARTS)]]
    name: Optional[Text] = None

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(Strict):
    include_usage: StrictBool = False


Number = Union[StrictInt, StrictFloat]


class Common(Strict):
    """Fields shared by both endpoints; the neutral value of each unimplemented knob is accepted."""

    model: Optional[Text] = None
    max_tokens: Optional[StrictInt] = Field(None, ge=1)
    stop: Union[StopText, Annotated[list[StopText], at_most(MAX_STOPS)], None] = None
    stream: StrictBool = False
    stream_options: Optional[StreamOptions] = None
    min_tokens: Optional[StrictInt] = Field(None, ge=0)  # vLLM's extension: no EOS before this many tokens
    seed: Optional[StrictInt] = None  # greedy decoding is deterministic: any seed gives the same answer
    user: Optional[Text] = None
    temperature: Optional[Number] = Field(None, ge=0, le=2)
    top_p: Optional[Number] = Field(None, gt=0, le=1)
    n: Optional[StrictInt] = Field(None, ge=1)
    presence_penalty: Optional[Number] = Field(None, ge=-2, le=2)
    frequency_penalty: Optional[Number] = Field(None, ge=-2, le=2)
    logit_bias: Optional[Annotated[dict[str, Number], at_most(MAX_ITEMS)]] = None
    top_k: Optional[StrictInt] = None
    repetition_penalty: Optional[Number] = None

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    def unsupported(self) -> str | None:
        """The first parameter set to something this server does not do (greedy, n = 1), else None."""
        neutral: dict[str, Any] = {"temperature": (None, 0, 0.0), "top_p": (None, 1, 1.0), "n": (None, 1),
                                   "presence_penalty": (None, 0, 0.0), "frequency_penalty": (None, 0, 0.0),
                                   "logit_bias": (None, {}), "top_k": (None, -1, 0),
                                   "repetition_penalty": (None, 1, 1.0), **self._extra_neutral()}
        for field, allowed in neutral.items():
            value = getattr(self, field)
            if value not in allowed:  # strict types: True is never taken for 1 here
                return field
        return None

    def _extra_neutral(self) -> dict[str, tuple]:
        return {}


class ChatRequest(Common):
    messages: Annotated[list[Message], at_most(MAX_MESSAGES)] = Field(min_length=1)
    max_completion_tokens: Optional[StrictInt] = Field(None, ge=1)  # chat's newer name for max_tokens
    logprobs: Optional[StrictBool] = None
    top_logprobs: Optional[StrictInt] = None
    tools: Optional[Annotated[list[dict[str, Any]], at_most(MAX_ITEMS)]] = None
    tool_choice: Union[Text, Annotated[dict[str, Any], at_most(MAX_ITEMS)], None] = None
    response_format: Optional[Annotated[dict[str, Any], at_most(MAX_ITEMS)]] = None

    def budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def _extra_neutral(self) -> dict[str, tuple]:
        return {"logprobs": (None, False), "top_logprobs": (None, 0), "tools": (None, []),
                "tool_choice": (None, "none", "auto"), "response_format": (None, {"type": "text"})}


def _token_ids(value: Any) -> Any:
    """A list of token ids checked in one pass with one error: item by item, a 4 MB body of 900,000
    non-integers collected 900,000 errors (3 s on the event loop)."""
    if isinstance(value, list):
        bad = next((k for k, t in enumerate(value) if type(t) is not int or t < 0), None)
        if bad is not None:
            raise ValueError(f"token ids are integers >= 0; item {bad} is {str(value[bad])[:20]!r}")
    return value


TokenIds = Annotated[list, BeforeValidator(_token_ids), at_most(MAX_PROMPT_TOKENS)]  # at_most runs first; items: _token_ids


class CompletionRequest(Common):
    """A text prompt or a list of them, or token ids (one list or a list of lists: what lm-eval's
    `local-completions` sends with a tokenizer). `echo: true` asks for prompt scoring (see scoring.py):
    the prompt's logprobs (`logprobs: N` alternatives per token) and at most one greedy token."""

    prompt: Union[Text, Annotated[list[Text], at_most(MAX_PROMPTS)], TokenIds,
                  Annotated[list[TokenIds], at_most(MAX_PROMPTS)]]
    max_tokens: Optional[StrictInt] = Field(None, ge=0)  # 0: prompt scoring only (with echo)
    echo: Optional[StrictBool] = None
    logprobs: Optional[StrictInt] = Field(None, ge=0, le=MAX_LOGPROBS)
    best_of: Optional[StrictInt] = None
    suffix: Optional[Text] = None

    def prompts(self) -> list[str] | list[list[int]]:
        """Text prompts, or token-id rows; one prompt comes back as a list of one."""
        if isinstance(self.prompt, str):
            return [self.prompt]
        if self.prompt and isinstance(self.prompt[0], int):
            return [list(self.prompt)]  # type: ignore[list-item]
        return list(self.prompt)  # type: ignore[arg-type]

    def scores_prompt(self) -> bool:
        return bool(self.echo)

    def budget(self) -> int | None:
        return self.max_tokens

    def _extra_neutral(self) -> dict[str, tuple]:
        scoring = (None, self.logprobs) if self.echo else (None, 0)  # logprobs of generated text: not done
        return {"echo": (None, False, True), "logprobs": scoring, "best_of": (None, 1), "suffix": (None, "")}


class TokenizeRequest(Strict):
    """POST /tokenize (vLLM's route; lm-eval's remote tokenizer sends `prompt` and `add_special_tokens`)."""

    prompt: Text
    add_special_tokens: StrictBool = True
    model: Optional[Text] = None


class DetokenizeRequest(Strict):
    """POST /detokenize: token ids back to text (special tokens kept, as vLLM answers)."""

    tokens: TokenIds
    model: Optional[Text] = None
