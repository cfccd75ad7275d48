"""Project revisions: `Project.revision` changes in the transaction of every write to what the analysis and the
documents read (the project's runs, brain dumps, entries, approach regroupings and marks, its settings and metric),
so a cache keyed by it (app.services.analysis) answers an unchanged project with one lookup and never serves a
state that has changed.

Writes are noted per session, by two paths that cover every write of the storage layer:

- the ORM unit of work: before each flush, the project of every new, changed or deleted row of those tables;
- bulk statements (an executemany INSERT or UPDATE), which bypass the unit of work: the storage function that runs
  one names its project with `touch`.

At the commit of the outermost transaction the noted projects get a fresh random revision (`new_revision`), the last
statement before COMMIT, so on PostgreSQL the project row stays locked only for that moment, and several processes
agree because the revision lives in the database. A rollback forgets the notes. A session that has written to a
project and not committed yet sees its own writes, which no cache may hold: `written` tells its reads to bypass it.

A write that changes none of those inputs (a sync touching only `synced_at`, an outbox delivery) changes nothing.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.storage.models import (
    AnsweredQuestion,
    ApproachAssignment,
    ApproachMarkProposal,
    ApproachMarkRow,
    Entry,
    Project,
    Run,
    SessionLog,
)
from app.storage.types import new_revision

_NOTED = "labbook.written_projects"
# Rows whose project's revision a change moves (each has `project_id`); the project row itself counts too.
TRACKED = (Run, SessionLog, Entry, ApproachAssignment, ApproachMarkRow, ApproachMarkProposal, AnsweredQuestion)


def touch(session: Session, project_id: int) -> None:
    """Note a write to the project that the unit of work does not see (a bulk statement)."""
    session.info.setdefault(_NOTED, set()).add(project_id)


def written(session: Session, project_id: int) -> bool:
    """Whether this session wrote to the project since its last commit (its reads see uncommitted writes)."""
    return project_id in session.info.get(_NOTED, ())


def current(session: Session, project_id: int) -> int | None:
    """The project's revision as committed (read, as every read of a request, in its transaction)."""
    return session.exec(select(Project.revision).where(Project.id == project_id)).first()


@event.listens_for(OrmSession, "before_flush")
def _note_unit_of_work(session: OrmSession, _context: Any, _instances: Any) -> None:
    dirty = session.dirty
    for obj in chain(session.new, dirty, session.deleted):
        if isinstance(obj, Project):
            project_id = obj.id  # a new project has no id yet, and a fresh revision already
        elif isinstance(obj, TRACKED):
            project_id = obj.project_id
        else:
            continue
        if project_id is not None and (obj not in dirty or session.is_modified(obj)):
            session.info.setdefault(_NOTED, set()).add(project_id)


@event.listens_for(OrmSession, "before_commit")
def _bump(session: OrmSession) -> None:
    if session.in_nested_transaction():  # a savepoint: the outer commit bumps
        return
    session.flush()
    noted = session.info.pop(_NOTED, None)
    if noted:
        # In id order, so two transactions writing to the same projects take the row locks in the same order.
        statement = update(Project).where(col(Project.id).in_(sorted(noted))).values(revision=new_revision())
        session.execute(statement)


@event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    session.info.pop(_NOTED, None)
