"""How messages, captions and chart titles count things: "1 batch", "3 batches", "A, B and 4 more"."""


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` with its noun in the number a reader expects (``many``: ``one`` + "es" after ch, s, sh or x,
    else + "s")."""
    if n == 1:
        return f"1 {one}"
    return f"{n:,} {many or one + ('es' if one.endswith(('ch', 's', 'sh', 'x')) else 's')}"


def some(names: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``names``, and how many more there are: "A, B, C and 4 more"."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
