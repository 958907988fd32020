"""Pure KAG rules that both the web process and the workers need (kag.md §14.2, §14.3, §16, §19).

The computational core lives in ``jobs/kag`` (workers only). What a route must apply itself — the
error classes with their API codes, the v2 lifecycle, feedback parsing, ``snapshot_date`` parsing —
lives here once, so ``web`` and ``shared.db.service`` never import ``jobs``; ``jobs.kag`` re-exports
these names. Importing this package loads no database, Redis or Flask module.
"""
