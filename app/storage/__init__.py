"""SQL storage: the only layer that builds queries. Functions flush and never commit (the request's session does)."""

# Every session of the process notes its writes to a project's inputs and moves the project's revision at commit.
from app.storage import revisions as revisions  # noqa: E402
