"""What a brain dump says about the project's lines of work, applied when the dump is posted.

A verdict on an approach ("TabNet is a dead end, dropping it", or "dropping them" after the approach's runs are
named; the project's stored runs are passed in so a run stands for its approach) becomes a proposed mark with the
sentence as its reason, shown beside the approach until a person confirms or dismisses it; with the project's
`auto_apply_declared_marks` on, it is applied at once. A dump never overrides a person's mark: a verdict contrary to
one is only proposed, and one that agrees with it is dropped. A sentence that answers an open question of an earlier
log entry marks that question answered, with the dump, its entry and the sentence; answered questions are no longer
listed as open (`list_questions`, and the documents)."""

from __future__ import annotations

import logging
from typing import cast

from sqlmodel import Session

from app.compose.log_entry import kind as log_entry_kind
from app.compose.log_entry.declarations import ProposedMark, answered_questions, may_declare_verdict, proposed_marks
from app.compose.log_entry.facts import RunFacts
from app.services import analysis as analysis_service
from app.services import outbox as outbox_service
from app.services.schemas import EntryPublic, OpenQuestionPublic, QuestionAnswerPublic
from app.storage import analysis as analysis_store
from app.storage import declarations as declaration_store
from app.storage import runs as run_store
from app.storage.models import AnsweredQuestion, Project, SessionLog

logger = logging.getLogger(__name__)

LOG_ENTRY = log_entry_kind.KIND


def apply_dump_said(session: Session, *, project: Project, log: SessionLog, entry: EntryPublic | None) -> None:
    """The verdicts the dump declares on approaches, and the earlier open questions it answers."""
    _declare_marks(session, project=project, log=log)
    _record_answers(session, project=project, log=log, entry_id=entry.id if entry is not None else None)


def _declare_marks(session: Session, *, project: Project, log: SessionLog) -> None:
    if not may_declare_verdict(log.text):
        return
    # The approaches as of a recent analysis: the dump's own writes (itself, its entry) change none of them.
    findings = analysis_service.recent_findings(session, project=project)
    held = {a.name: a.mark for a in findings.approaches}
    approach_of = {key: a.name for a in findings.approaches for key in a.run_ids}
    rows = run_store.label_rows(session, project_id=cast(int, project.id))
    runs = [RunFacts(key, run_id, name) for key, run_id, name, _ in rows]
    applied = False
    for mark in proposed_marks(log.text, approaches=list(held), runs=runs, approach_of=approach_of):
        current = held[mark.approach]
        if current is not None and current.status == mark.status:
            continue  # already marked so: nothing to propose
        apply = project.auto_apply_declared_marks and current is None
        _settle(session, project_id=cast(int, project.id), log=log, mark=mark, apply=apply)
        applied |= apply
        logger.info(
            "approach.mark.declared",
            extra={"project": project.slug, "approach": mark.approach, "status": mark.status, "applied": apply},
        )
    if applied:
        _queue_tags(session, project=project)


def _settle(session: Session, *, project_id: int, log: SessionLog, mark: ProposedMark, apply: bool) -> None:
    """Apply the mark in the dump author's name, or store it as the approach's proposal."""
    if apply:
        analysis_store.set_approach_mark(
            session, project_id=project_id, name=mark.approach, status=mark.status, reason=mark.reason, by=log.author
        )
        declaration_store.delete_mark_proposal(session, project_id=project_id, name=mark.approach)
        return
    declaration_store.propose_mark(
        session,
        project_id=project_id,
        name=mark.approach,
        status=mark.status,
        reason=mark.reason,
        log_id=cast(int, log.id),
    )


def _queue_tags(session: Session, *, project: Project) -> None:
    findings = analysis_service.project_findings(session, project=project)
    outbox_service.queue_labbook_tags(session, project=project, findings=findings)


def _record_answers(session: Session, *, project: Project, log: SessionLog, entry_id: int | None) -> None:
    project_id, log_id = cast(int, project.id), cast(int, log.id)
    # Only the earlier entries' open questions are read, not their whole bodies: a dump costs the same in a project
    # of many entries.
    earlier = analysis_store.open_questions_before(session, project_id=project_id, kind=LOG_ENTRY, log_id=log_id)
    answers = declaration_store.answered_questions(session, project_id=project_id)
    answered = {(a.entry_id, a.question) for a in answers}
    asked = [
        (asked_in, text)
        for asked_in, questions in earlier
        for text in analysis_service.open_question_texts(asked_in, questions, answers)
        if (asked_in, text) not in answered
    ]
    if not asked:
        return
    for found in answered_questions(log.text, open_questions=list(dict.fromkeys(text for _, text in asked))):
        for asked_in, text in asked:
            if text == found.question:
                row = AnsweredQuestion(
                    project_id=project_id,
                    entry_id=asked_in,
                    question=text,
                    log_id=log_id,
                    answer_entry_id=entry_id,
                    quote=found.quote,
                )
                declaration_store.add_answered_question(session, row)
                logger.info("question.answered", extra={"project": project.slug, "entry": asked_in, "log": log_id})


def answer_public(row: AnsweredQuestion) -> QuestionAnswerPublic:
    return QuestionAnswerPublic(
        question=row.question,
        log_id=row.log_id,
        entry_id=row.answer_entry_id,
        quote=row.quote,
        answered_at=row.answered_at,
    )


def list_questions(session: Session, *, project: Project, open_only: bool) -> list[OpenQuestionPublic]:
    """The open questions of the project's log entries, oldest first, each with where it was answered (if it was)."""
    project_id = cast(int, project.id)
    entries = analysis_store.entries_of_kind(session, project_id=project_id, kinds=[LOG_ENTRY])
    answers = declaration_store.answered_questions(session, project_id=project_id)
    days = analysis_store.log_days(session, log_ids={e.log_id for e in entries if e.log_id is not None})
    out: list[OpenQuestionPublic] = []
    for entry in entries:
        day = days.get(entry.log_id) if entry.log_id is not None else None
        for text in analysis_service.open_items(entry, answers):
            answer = next((a for a in answers if a.entry_id == entry.id and a.question == text), None)
            if open_only and answer is not None:
                continue
            out.append(
                OpenQuestionPublic(
                    question=text,
                    entry_id=cast(int, entry.id),
                    log_id=entry.log_id,
                    day=day or entry.created_at.date(),
                    answered=answer_public(answer) if answer is not None else None,
                )
            )
    return out
