"""Session-log (brain dump) and redaction queries."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.storage.models import Redaction, SessionLog


def add_log(session: Session, log: SessionLog) -> SessionLog:
    session.add(log)
    session.flush()
    return log


def get_log(session: Session, log_id: int) -> SessionLog | None:
    return session.get(SessionLog, log_id)


def lock_log(session: Session, log_id: int) -> None:
    """Lock the log's row until the transaction ends (PostgreSQL; SQLite's writers hold the write lock already)."""
    session.exec(select(SessionLog.id).where(SessionLog.id == log_id).with_for_update()).first()


def list_logs(session: Session, *, project_id: int, after_id: int, limit: int) -> list[SessionLog]:
    query = select(SessionLog).where(SessionLog.project_id == project_id, col(SessionLog.id) > after_id)
    return list(session.exec(query.order_by(col(SessionLog.id)).limit(limit)))


def list_redactions(session: Session, *, log_id: int) -> list[Redaction]:
    query = select(Redaction).where(Redaction.log_id == log_id).order_by(col(Redaction.id))
    return list(session.exec(query))


def add_redaction(session: Session, redaction: Redaction) -> Redaction:
    session.add(redaction)
    session.flush()
    return redaction


def log_ids(session: Session, *, project_id: int) -> list[int]:
    query = select(SessionLog.id).where(SessionLog.project_id == project_id).order_by(col(SessionLog.id))
    return [i for i in session.exec(query) if i is not None]


def redactions_of(session: Session, *, project_id: int) -> list[Redaction]:
    """Every redaction of the project's brain dumps, oldest first."""
    logs = select(SessionLog.id).where(SessionLog.project_id == project_id)
    query = select(Redaction).where(col(Redaction.log_id).in_(logs)).order_by(col(Redaction.id))
    return list(session.exec(query))
