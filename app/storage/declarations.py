"""What brain dumps declared: verdicts on approaches waiting for a person's confirmation, and open questions that a
later dump answered."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import ConcurrentWrite
from app.storage.models import AnsweredQuestion, ApproachMarkProposal
from app.storage.types import utcnow


def mark_proposals(session: Session, *, project_id: int) -> list[ApproachMarkProposal]:
    query = select(ApproachMarkProposal).where(ApproachMarkProposal.project_id == project_id)
    return list(session.exec(query.order_by(col(ApproachMarkProposal.id))))


def get_mark_proposal(session: Session, *, project_id: int, name: str) -> ApproachMarkProposal | None:
    query = select(ApproachMarkProposal).where(
        ApproachMarkProposal.project_id == project_id, ApproachMarkProposal.name == name
    )
    return session.exec(query).first()


def propose_mark(
    session: Session, *, project_id: int, name: str, status: str, reason: str, log_id: int
) -> ApproachMarkProposal:
    """The approach's one proposal: a later dump's verdict replaces an earlier one still waiting."""
    row = get_mark_proposal(session, project_id=project_id, name=name) or ApproachMarkProposal(
        project_id=project_id, name=name, status=status, log_id=log_id
    )
    row.status, row.reason, row.log_id, row.proposed_at = status, reason, log_id, utcnow()
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConcurrentWrite("another request proposed a mark on the same approach at the same moment") from exc
    return row


def delete_mark_proposal(session: Session, *, project_id: int, name: str) -> bool:
    row = get_mark_proposal(session, project_id=project_id, name=name)
    if row is not None:
        session.delete(row)
        session.flush()
    return row is not None


def answered_questions(session: Session, *, project_id: int) -> list[AnsweredQuestion]:
    """The project's answered questions, oldest answer first."""
    query = select(AnsweredQuestion).where(AnsweredQuestion.project_id == project_id)
    return list(session.exec(query.order_by(col(AnsweredQuestion.id))))


def add_answered_question(session: Session, row: AnsweredQuestion) -> AnsweredQuestion:
    session.add(row)
    session.flush()
    return row


def answers_of(session: Session, *, entry_ids: Collection[int]) -> list[AnsweredQuestion]:
    """The answers to the open questions of these entries, oldest first."""
    if not entry_ids:
        return []
    query = select(AnsweredQuestion).where(col(AnsweredQuestion.entry_id).in_(list(entry_ids)))
    return list(session.exec(query.order_by(col(AnsweredQuestion.id))))


def redact_quotes(session: Session, *, log_id: int, secret: str, replacement: str) -> None:
    """Replace `secret` in the sentences quoted from the dump `log_id` (proposed marks' reasons, answers)."""
    proposals = select(ApproachMarkProposal).where(ApproachMarkProposal.log_id == log_id)
    for proposal in session.exec(proposals):
        proposal.reason = proposal.reason.replace(secret, replacement)
        session.add(proposal)
    for answer in session.exec(select(AnsweredQuestion).where(AnsweredQuestion.log_id == log_id)):
        answer.quote = answer.quote.replace(secret, replacement)
        session.add(answer)
    session.flush()
