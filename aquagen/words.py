"""How messages, captions and chart titles count things: "1 batch", "3 batches"."""


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` with its noun in the number a reader expects (``many``: ``one`` + "es" after ch, s, sh or x,
    else + "s")."""
    if n == 1:
        return f"1 {one}"
    return f"{n:,} {many or one + ('es' if one.endswith(('ch', 's', 'sh', 'x')) else 's')}"
