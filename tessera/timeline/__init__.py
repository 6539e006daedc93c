"""The case timeline (posts, captures, file times, suspect events) and capture places (issue 14)."""
