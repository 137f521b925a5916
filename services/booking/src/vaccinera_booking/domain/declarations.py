"""The health declaration ("hälsodeklaration"): a unit's versioned questions and how an answer
is checked (BK-2, BK-12)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from vaccinera_booking.domain.common import invalid
from vaccinera_contracts.events import DeclarationAnswer, HealthDeclarationSubmitted
from vaccinera_kit.errors import DomainError, ErrorDetail


@dataclass(frozen=True)
class Question:
    question_id: str
    text: str
    kind: Literal["yes_no", "text"] = "yes_no"
    required: bool = True
    comment_required_if_yes: bool = False


@dataclass(frozen=True)
class Questionnaire:
    unit_id: str
    version: int
    questions: tuple[Question, ...] = field(default_factory=tuple)


DEFAULT_QUESTIONS = (
    Question("fever", "Har du feber eller känner du dig sjuk idag?"),
    Question(
        "allergy",
        "Har du haft en allvarlig allergisk reaktion (anafylaxi)?",
        comment_required_if_yes=True,
    ),
    Question("anticoagulants", "Behandlas du med blodförtunnande läkemedel?"),
    Question("pregnant", "Är du gravid?", required=False),
    Question("recent_vaccine", "Har du fått något annat vaccin de senaste 7 dagarna?"),
    Question("other", "Övrigt du vill att vaccinatören ska veta", kind="text", required=False),
)


def check_answers(questionnaire: Questionnaire, version: int, answers: dict[str, Any]) -> None:
    """A declaration answers the unit's current questions; each problem is named."""
    if version != questionnaire.version:
        raise invalid(
            "health_declaration.version",
            "outdated",
            f"The unit's questions changed: answer version {questionnaire.version}.",
        )
    known = {q.question_id: q for q in questionnaire.questions}
    details = [
        ErrorDetail(
            field=f"health_declaration.answers.{k}",
            rule="unknown_question",
            message="No such question.",
        )
        for k in answers
        if k not in known
    ]
    for q in questionnaire.questions:
        answer = answers.get(q.question_id)
        path = f"health_declaration.answers.{q.question_id}"
        if answer is None:
            if q.required:
                details.append(ErrorDetail(field=path, rule="required", message="Answer this."))
            continue
        if q.kind == "yes_no":
            if not isinstance(answer, dict) or not isinstance(answer.get("yes"), bool):
                details.append(
                    ErrorDetail(
                        field=path, rule="yes_no", message='Answer {"yes": true} or {"yes": false}.'
                    )
                )
            elif (
                answer["yes"]
                and q.comment_required_if_yes
                and not str(answer.get("comment") or "").strip()
            ):
                details.append(
                    ErrorDetail(
                        field=path, rule="comment_required", message="Describe it in a comment."
                    )
                )
        elif not isinstance(answer, dict) or not isinstance(answer.get("text", ""), str):
            details.append(ErrorDetail(field=path, rule="text", message='Answer {"text": "..."}.'))
        elif q.required and not answer.get("text", "").strip():
            details.append(ErrorDetail(field=path, rule="required", message="Answer this."))
    if details:
        raise DomainError(
            "The health declaration is not complete.", code="invalid_declaration", details=details
        )


@dataclass(frozen=True)
class Declaration:
    """A patient's answers to the version of the unit's questions they saw; the questions are
    kept with the answers, so a later change of the questionnaire cannot alter what was said."""

    declaration_id: str
    patient_id: str
    unit_id: str
    booking_id: str | None
    version: int
    submitted_at: datetime
    answers: dict[str, Any]
    questions: tuple[Question, ...]

    @classmethod
    def answer(
        cls,
        *,
        declaration_id: str,
        patient_id: str,
        questionnaire: Questionnaire,
        version: int,
        answers: dict[str, Any],
        booking_id: str | None,
        now: datetime,
    ) -> Declaration:
        check_answers(questionnaire, version, answers)
        return cls(
            declaration_id,
            patient_id,
            questionnaire.unit_id,
            booking_id,
            questionnaire.version,
            now,
            answers,
            questionnaire.questions,
        )

    def submitted(self) -> HealthDeclarationSubmitted:
        """The event carries the answers as the patient saw and gave them, so the journal can
        keep them with the vaccination (JR-6) whatever the unit asks later."""
        return HealthDeclarationSubmitted(
            patient_id=self.patient_id,
            declaration_id=self.declaration_id,
            unit_id=self.unit_id,
            booking_id=self.booking_id,
            questionnaire_version=self.version,
            submitted_at=self.submitted_at,
            answers=self.answers_in_words(),
        )

    def answers_in_words(self) -> tuple[DeclarationAnswer, ...]:
        """Each answered question in the questionnaire's order, with its text of the version
        answered and the answer in words; optional questions left unanswered are left out."""
        given: list[DeclarationAnswer] = []
        for q in self.questions:
            answer = self.answers.get(q.question_id)
            if not isinstance(answer, dict):
                continue  # unanswered (check_answers let only optional ones through)
            if q.kind == "yes_no":
                words = "Ja" if answer.get("yes") else "Nej"
            else:
                words = str(answer.get("text") or "").strip()
                if not words:
                    continue  # an optional text question left empty says nothing
            comment = str(answer.get("comment") or "").strip() or None
            given.append(
                DeclarationAnswer(
                    question_id=q.question_id, question=q.text, answer=words, comment=comment
                )
            )
        return tuple(given)


def default_questionnaire(unit_id: str) -> Questionnaire:
    """What a unit asks until it writes its own questions: version 0."""
    return Questionnaire(unit_id, 0, DEFAULT_QUESTIONS)


def check_questions(questions: tuple[Question, ...]) -> None:
    """A unit's own questions: each question id once."""
    if len({q.question_id for q in questions}) != len(questions):
        raise invalid("questions", "duplicate", "Each question id once.")
