"""HTTP routes, one module per resource. Routes are thin: parse, call one service, return."""
