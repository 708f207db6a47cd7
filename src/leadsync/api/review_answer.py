"""The body of ``POST /api/review/{item_id}/resolve``: ``{"choose": "41"}`` or
``{"skip": true}``.

A body of another shape is refused in words (a 400 problem, as every malformed body is) rather
than as the errors of both shapes pydantic tried: ``body: choose must be a record's id as text
("41") or a whole number (41); got true``. A whole number is taken as its text, since every
listing gives record ids as numbers.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

MAX_ID = 200
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]


class ChooseAnswer(BaseModel):
    """Answer a review question with a record (an owner for a rep's question)."""

    model_config = ConfigDict(extra="forbid")

    choose: RecordId | int = Field(
        description="A record's id (an owner's id for a rep's question), as text or as a whole "
        "number; it need not be one of the candidates, but must be a record of the type the "
        "question asks for.",
        examples=["41"],
    )


class SkipAnswer(BaseModel):
    """Answer a review question by leaving it without a record."""

    model_config = ConfigDict(extra="forbid")

    skip: Literal[True] = Field(
        description="Leave the activity without a record; it is held no more."
    )


SHAPES = 'the answer is {"choose": "41"} (a record\'s id) or {"skip": true}'
CHOOSE = (
    f'choose must be a record\'s id as text ("41", at most {MAX_ID} characters) or a whole '
    "number (41)"
)


def _refused(message: str, value: Any) -> PydanticCustomError:
    got = json.dumps(value, ensure_ascii=False, default=str)
    return PydanticCustomError(
        "review_answer", "{message}; got {got}", {"message": message, "got": got[:100]}
    )


def _read(body: Any) -> Any:
    """The body as one of the two shapes would take it, or a refusal saying what is wrong:
    not an object or neither key, both keys, a key of neither shape, a value of the wrong
    kind."""
    if not isinstance(body, dict) or not ({"choose", "skip"} & body.keys()):
        raise _refused(SHAPES, body)
    if {"choose", "skip"} <= body.keys():
        raise _refused("give choose or skip, not both: " + SHAPES, body)
    if other := sorted(str(k) for k in body.keys() - {"choose", "skip"}):
        raise _refused(f"unknown key {', '.join(map(repr, other))}: " + SHAPES, body)
    if "choose" in body and "skip" not in body:
        choose = body["choose"]
        if isinstance(choose, int) and not isinstance(choose, bool):
            return {**body, "choose": str(choose)}
        if not isinstance(choose, str) or not 1 <= len(choose) <= MAX_ID:
            raise _refused(CHOOSE, choose)
    if "skip" in body and "choose" not in body and body["skip"] is not True:
        raise _refused("skip must be true (to leave the activity without a record)", body["skip"])
    return body


Answer = Annotated[ChooseAnswer | SkipAnswer, BeforeValidator(_read)]
