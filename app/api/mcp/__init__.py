"""Chat tools (MCP): Labbook's documents as tools a model can choose among, on two transports.

`tools` holds the tools and resources; through `api` each answers by calling Labbook's own `/v1` API, so the services
that answer HTTP answer here too, under the caller's token and its project scope. `http` mounts them at `/mcp`
(streamable HTTP, the caller's bearer token forwarded to the same app in-process); `stdio` serves them to a desktop
assistant, calling a running server at `LABBOOK_URL` with `LABBOOK_TOKEN`.
"""
