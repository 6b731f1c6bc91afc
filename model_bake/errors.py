class BakeError(RuntimeError):
    """The bake cannot produce a folder it can vouch for; the message says what and where."""
