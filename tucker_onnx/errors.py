"""One exception family for everything a user can cause; the CLI prints it as one line and exits 1."""


class TuckerOnnxError(Exception):
    """A user-facing error: says what went wrong, where, and which flag fixes it."""


class CheckFailed(TuckerOnnxError):
    """The numeric check found the rewritten model disagreeing with the original."""
