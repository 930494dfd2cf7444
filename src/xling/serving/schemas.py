"""Request and response bodies of the JSON APIs (the LibreTranslate routes read JSON or forms themselves).

Shapes follow the APIs clients already speak: OpenAI's embeddings, text-embeddings-inference's /embed, and
xling's own search, classify and answer. Unknown fields are ignored, as those servers do (OpenAI clients send
`user`), so a client written for them works unchanged; a known field that would change the answer is declared,
and refused when this server cannot honour it (TEI's `dimensions`, `prompt_name`, a left truncation), never
quietly dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError


def _to_first_non_string(value: Any) -> Any:
    """Return `value` as given, a list cut after its first item that is not a string: validation then names
    that item alone. Pydantic's strict check makes an error of every wrong item, and FastAPI builds them all on
    the event loop (330,000 numbers, a 990 KB body, held it ~3 s)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                return value[: i + 1]
    return value


Texts = Annotated[str | list[str], BeforeValidator(_to_first_non_string)]


def _no_token_ids(value: Any) -> Any:
    """Return a field of texts as given; a token-id array (OpenAI and text-embeddings-inference accept `[1, 2]`
    or `[[1, 2], [3]]`) is refused saying so, rather than as a list whose items are not strings."""
    if _is_token_ids(value) or (isinstance(value, list) and value and all(_is_token_ids(v) for v in value)):
        raise PydanticCustomError(
            "token_ids", "token-id arrays are not supported: send text (a string or a list of strings)"
        )
    return value


def _is_token_ids(value: Any) -> bool:
    """Return True for a non-empty list of integers (booleans are not token ids)."""
    return isinstance(value, list) and bool(value) and all(type(item) is int for item in value)


class _Request(BaseModel):
    # strict: "3" or 2.0 for an integer, "yes" or 1 for a boolean is a 4xx naming the field, not a guess
    model_config = ConfigDict(extra="ignore", strict=True)


class EmbeddingsRequest(_Request):
    """OpenAI `POST /v1/embeddings`."""

    input: Texts = Field(description="A text or a list of texts (token-id arrays are not accepted).")
    model: str | None = Field(None, description="The served encoder's name (see /v1/models); omit for it.")
    encoding_format: Literal["float", "base64"] = Field(
        "float",
        description="float: JSON numbers; base64: little-endian float32 bytes (OpenAI's client default).",
    )
    dimensions: int | None = Field(None, description="Must be the encoder's dimension when given.")
    user: str | None = None

    _input_not_token_ids = field_validator("input", mode="before")(_no_token_ids)


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


class EmbedRequest(_Request):
    """text-embeddings-inference `POST /embed`."""

    inputs: Texts = Field(description="A text or a list of texts (token-id arrays are not accepted).")
    normalize: bool = Field(True, description="Unit-length vectors (cosine = dot product).")
    truncate: bool | None = Field(
        False,
        description="Cut a text over the model's token limit; false (or null): such a text gets 413, as in TEI.",
    )
    truncation_direction: Literal["Right", "Left"] = Field(
        "Right", description="Which end of a text `truncate` cuts: Right (its end) only; Left gets 422."
    )
    prompt_name: str | None = Field(
        None,
        description="A named prompt: none served (the encoder's default prompt, if any, is always used).",
    )
    dimensions: int | None = Field(None, description="Must be the encoder's dimension when given.")

    _inputs_not_token_ids = field_validator("inputs", mode="before")(_no_token_ids)


class SearchRequest(_Request):
    """xling `POST /v1/search`: a query in any language against a configured index."""

    query: str = Field(description="The query text, in any language.")
    index: str | None = Field(
        None, description="Index name from the server config (default: its default index)."
    )
    k: int = Field(10, ge=1, description="How many hits (left out: 10, or the server's max_k if lower).")
    lang: Texts | None = Field(
        None,
        description="Only documents in these languages (de or deu; zh finds cmn). The index keeps languages "
        "without script or region, so a code naming one (de-DE, sr-Latn) is a 400 saying so.",
    )
    detected_lang: Texts | None = Field(
        None,
        description="Only documents the language detector labelled with one of these (any code form; a script "
        "narrows it: sr-Latn, zh-Hant). Needs an index that stores detected languages (`xling index build "
        "--detect-language`); 400 otherwise.",
    )


class SearchHit(BaseModel):
    id: str = Field(
        description="The document's stable id (given at indexing, else a hash of language and text)."
    )
    row: int = Field(description="The document's row id in the index.")
    text: str
    language: str = Field(description="ISO 639-3 code of the document's language.")
    score: float = Field(description="Cosine similarity to the query.")
    metadata: dict[str, Any] | None = None
    detected: str | None = Field(
        None,
        description="The language detector's label of the document (deu, srp_Cyrl, und); null when the "
        "index stores none.",
    )


class SearchResponse(BaseModel):
    index: str
    hits: list[SearchHit]


class ClassifyRequest(_Request):
    """xling `POST /v1/classify`."""

    inputs: Texts = Field(description="A text or a list of texts, in any language.")
    language: str | None = Field(
        None, description="The texts' language, for a classifier adapted to it (`xling transfer adapt`)."
    )


class Prediction(BaseModel):
    label: str
    score: float = Field(description="Probability of the label.")
    probabilities: dict[str, float] = Field(description="Every label's probability.")


class ClassifyResponse(BaseModel):
    model: str
    labels: list[str]
    predictions: list[Prediction]


class AnswerRequest(_Request):
    """xling `POST /v1/answer`: a question to the support bot."""

    question: str = Field(description="The customer's question, in any language.")
    lang: str | None = Field(None, description="The asker's language, when known (default: detected).")
