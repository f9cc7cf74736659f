"""The range of a stored row's id, which the command line and the web UI check before any
query: a larger number is a user's mistake, not a database error."""

MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL: none is larger
