"""Profile-independent table mechanics: conform to a schema, history rows, time-ordered ids, the as-of cut."""
