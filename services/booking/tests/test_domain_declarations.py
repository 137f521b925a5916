"""BK-2, BK-12, JR-6: the health declaration without I/O: a unit's versioned questions, how an
answer is checked (each problem named by field and rule), and what a declaration keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vaccinera_booking.domain import (
    Declaration,
    Question,
    Questionnaire,
    check_answers,
    check_questions,
    default_questionnaire,
)
from vaccinera_contracts.events import DeclarationAnswer
from vaccinera_kit.errors import DomainError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A = "health_declaration.answers."

QUESTIONS = (
    Question("fever", "Har du feber idag?"),
    Question("allergy", "Har du haft anafylaxi?", comment_required_if_yes=True),
    Question("pregnant", "Är du gravid?", required=False),
    Question("other", "Övrigt", kind="text", required=False),
)
UNIT_QUESTIONS = Questionnaire("unit-1", 3, QUESTIONS)


def complete() -> dict[str, Any]:
    return {"fever": {"yes": False}, "allergy": {"yes": False}}


def broken(error: DomainError) -> set[tuple[str | None, str]]:
    return {(d.field, d.rule) for d in error.details}


def refused(answers: dict[str, Any], version: int = 3) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_answers(UNIT_QUESTIONS, version, answers)
    assert caught.value.status == 422
    return caught.value


# --- checking the answers (BK-2, BK-12) ---


def test_bk12_complete_answers_to_the_current_version_are_accepted() -> None:
    check_answers(UNIT_QUESTIONS, 3, complete())


def test_bk12_answers_with_every_optional_question_are_accepted() -> None:
    answers = complete() | {
        "allergy": {"yes": True, "comment": "Anafylaxi efter getingstick 2015"},
        "pregnant": {"yes": False},
        "other": {"text": "Rädd för sprutor"},
    }
    check_answers(UNIT_QUESTIONS, 3, answers)


@pytest.mark.parametrize("version", [2, 4, 0])
def test_bk12_answers_to_an_outdated_version_are_refused(version: int) -> None:
    """The unit changed its questions since the form was shown (now version 3)."""
    error = refused(complete(), version)
    assert ("health_declaration.version", "outdated") in broken(error)


def test_bk12_an_answer_to_an_unknown_question_is_refused() -> None:
    error = refused(complete() | {"covid_last_month": {"yes": False}})
    assert error.code == "invalid_declaration"
    assert broken(error) == {(A + "covid_last_month", "unknown_question")}


def test_bk12_every_missing_required_answer_is_named() -> None:
    """fever and allergy are required; pregnant and other are not: two problems, named."""
    error = refused({})
    assert error.code == "invalid_declaration"
    assert broken(error) == {(A + "fever", "required"), (A + "allergy", "required")}


def test_bk12_a_required_answer_given_as_null_is_missing() -> None:
    error = refused(complete() | {"fever": None})
    assert broken(error) == {(A + "fever", "required")}


@pytest.mark.parametrize(
    "answer",
    [True, "yes", "ja", {"yes": "ja"}, {"yes": 1}, {"no": True}, {}, [True]],
    ids=[
        "bare_bool",
        "string",
        "swedish",
        "yes_as_string",
        "yes_as_int",
        "no_key",
        "empty",
        "list",
    ],
)
def test_bk12_a_yes_no_answer_must_be_yes_true_or_false(answer: Any) -> None:
    error = refused(complete() | {"fever": answer})
    assert broken(error) == {(A + "fever", "yes_no")}


@pytest.mark.parametrize("comment", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_bk12_a_yes_that_needs_a_comment_without_one_is_refused(comment: str | None) -> None:
    allergy: dict[str, Any] = {"yes": True}
    if comment is not None:
        allergy["comment"] = comment
    error = refused(complete() | {"allergy": allergy})
    assert broken(error) == {(A + "allergy", "comment_required")}


def test_bk12_a_yes_that_needs_a_comment_with_a_null_comment_is_refused() -> None:
    error = refused(complete() | {"allergy": {"yes": True, "comment": None}})
    assert broken(error) == {(A + "allergy", "comment_required")}


def test_bk12_a_comment_is_needed_only_for_a_yes_to_a_question_asking_for_one() -> None:
    check_answers(
        UNIT_QUESTIONS,
        3,
        {"fever": {"yes": True}, "allergy": {"yes": False}, "pregnant": {"yes": True}},
    )


@pytest.mark.parametrize(
    "answer",
    ["Rädd för sprutor", {"text": 5}, {"text": None}, {"text": ["a"]}, True],
    ids=["bare_string", "number", "null", "list", "bool"],
)
def test_bk12_a_text_answer_must_be_text_in_an_object(answer: Any) -> None:
    error = refused(complete() | {"other": answer})
    assert broken(error) == {(A + "other", "text")}


@pytest.mark.parametrize(
    "answer", [{"text": ""}, {"text": "   "}, {}], ids=["empty", "blank", "no_text"]
)
def test_bk12_a_required_text_question_answered_with_no_text_is_missing(answer: Any) -> None:
    questionnaire = Questionnaire(
        "unit-1", 1, (Question("medicines", "Vilka läkemedel tar du?", kind="text"),)
    )
    with pytest.raises(DomainError) as caught:
        check_answers(questionnaire, 1, {"medicines": answer})
    assert broken(caught.value) == {(A + "medicines", "required")}


def test_bk12_every_problem_is_named_at_once() -> None:
    error = refused({"allergy": {"yes": True}, "other": "x", "extra": {"yes": True}})
    assert broken(error) == {
        (A + "extra", "unknown_question"),
        (A + "fever", "required"),
        (A + "allergy", "comment_required"),
        (A + "other", "text"),
    }


# --- the declaration a patient submits (BK-2, BK-12, JR-6) ---


def test_bk12_a_declaration_keeps_the_questions_it_answered() -> None:
    """The unit later rewrites its questions: what was asked and said stays as it was."""
    answers = complete()
    declaration = Declaration.answer(
        declaration_id="hd-1",
        patient_id="pat-1",
        questionnaire=UNIT_QUESTIONS,
        version=3,
        answers=answers,
        booking_id=None,
        now=NOW,
    )
    rewritten = Questionnaire("unit-1", 4, (Question("fever", "Känner du dig frisk?"),))
    later = Declaration.answer(
        declaration_id="hd-9",
        patient_id="pat-1",
        questionnaire=rewritten,
        version=4,
        answers={"fever": {"yes": False}},
        booking_id=None,
        now=NOW,
    )

    assert later.questions == rewritten.questions
    assert declaration.questions == QUESTIONS
    assert declaration.questions[0].text == "Har du feber idag?"
    assert declaration.version == 3
    assert declaration.answers == answers
    assert (declaration.unit_id, declaration.patient_id, declaration.submitted_at) == (
        "unit-1",
        "pat-1",
        NOW,
    )


def test_bk12_a_declaration_through_the_units_link_has_no_booking() -> None:
    declaration = Declaration.answer(
        declaration_id="hd-1",
        patient_id="pat-1",
        questionnaire=UNIT_QUESTIONS,
        version=3,
        answers=complete(),
        booking_id=None,
        now=NOW,
    )
    event = declaration.submitted()
    assert (event.declaration_id, event.patient_id, event.unit_id) == ("hd-1", "pat-1", "unit-1")
    assert event.booking_id is None
    assert event.questionnaire_version == 3


def test_bk2_a_declaration_filled_in_while_booking_names_the_booking() -> None:
    declaration = Declaration.answer(
        declaration_id="hd-2",
        patient_id="pat-1",
        questionnaire=UNIT_QUESTIONS,
        version=3,
        answers=complete(),
        booking_id="bk-1",
        now=NOW,
    )
    assert declaration.booking_id == "bk-1"
    assert declaration.submitted().booking_id == "bk-1"


def test_bk12_an_incomplete_declaration_is_not_made() -> None:
    with pytest.raises(DomainError) as caught:
        Declaration.answer(
            declaration_id="hd-3",
            patient_id="pat-1",
            questionnaire=UNIT_QUESTIONS,
            version=3,
            answers={"fever": {"yes": False}},
            booking_id=None,
            now=NOW,
        )
    assert broken(caught.value) == {(A + "allergy", "required")}


def test_jr6_the_event_carries_the_answers_in_words_in_the_questionnaires_order() -> None:
    """The journal keeps the answers with the vaccination: each question's text of the version
    answered, "Ja"/"Nej" or the text, and the comment; optional questions not answered are left
    out, whatever order the answers came in."""
    answers: dict[str, Any] = {
        "other": {"text": "  Rädd för sprutor "},
        "allergy": {"yes": True, "comment": "Anafylaxi efter getingstick 2015"},
        "fever": {"yes": False, "comment": "  "},
    }
    declaration = Declaration.answer(
        declaration_id="hd-4",
        patient_id="pat-1",
        questionnaire=UNIT_QUESTIONS,
        version=3,
        answers=answers,
        booking_id="bk-1",
        now=NOW,
    )

    event = declaration.submitted()

    assert event.submitted_at == NOW
    assert event.answers == (
        DeclarationAnswer(question_id="fever", question="Har du feber idag?", answer="Nej"),
        DeclarationAnswer(
            question_id="allergy",
            question="Har du haft anafylaxi?",
            answer="Ja",
            comment="Anafylaxi efter getingstick 2015",
        ),
        DeclarationAnswer(question_id="other", question="Övrigt", answer="Rädd för sprutor"),
    )


@pytest.mark.parametrize(
    "other", [None, {"text": ""}, {"text": "   "}, {}], ids=["absent", "empty", "blank", "no_text"]
)
def test_jr6_an_optional_question_left_unanswered_is_left_out(other: Any) -> None:
    answers = complete() | ({} if other is None else {"other": other})
    declaration = Declaration.answer(
        declaration_id="hd-5",
        patient_id="pat-1",
        questionnaire=UNIT_QUESTIONS,
        version=3,
        answers=answers,
        booking_id=None,
        now=NOW,
    )
    answered = declaration.submitted().answers
    assert [a.question_id for a in answered] == ["fever", "allergy"]
    assert [a.answer for a in answered] == ["Nej", "Nej"]
    assert all(a.comment is None for a in answered)


# --- the unit's questions (BK-12) ---


def test_bk12_a_unit_without_its_own_questions_asks_the_default_ones_as_version_0() -> None:
    questionnaire = default_questionnaire("unit-7")
    assert (questionnaire.unit_id, questionnaire.version) == ("unit-7", 0)
    ids = [q.question_id for q in questionnaire.questions]
    assert ids
    assert len(set(ids)) == len(ids)
    check_questions(questionnaire.questions)
    # The serious-allergy question needs a description when answered yes.
    allergy = next(q for q in questionnaire.questions if q.question_id == "allergy")
    assert allergy.comment_required_if_yes


def test_bk12_the_default_questions_can_be_answered() -> None:
    questionnaire = default_questionnaire("unit-7")
    answers: dict[str, Any] = {
        q.question_id: {"yes": False} for q in questionnaire.questions if q.required
    }
    check_answers(questionnaire, 0, answers)


def test_bk12_a_unit_question_id_used_twice_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        check_questions((Question("fever", "Feber?"), Question("fever", "Feber idag?")))
    assert ("questions", "duplicate") in broken(caught.value)


def test_bk12_unit_questions_with_distinct_ids_are_accepted() -> None:
    check_questions(QUESTIONS)
