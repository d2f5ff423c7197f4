"""CLI sub-commands, one module each; each exposes ``register(subparsers)``."""


def split_list(text):
    """Parse a comma-separated CLI list (``A,B,C``); None stays None."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]
