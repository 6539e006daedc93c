"""Network tracing over accounts, groups, messages and media."""
