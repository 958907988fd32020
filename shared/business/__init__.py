"""Pure business rules of business.md that synchronous web routes need (no DB, Redis or Flask).

One module per domain: ``crm``, ``offers``, ``outbound``, ``identity``, ``portfolio``, ``continuity``,
``upsell``, ``digests``, ``analytics``, ``loops``, ``control_tower``; shared helpers ``errors``,
``numbers`` (§0.6 rounding), ``params`` (§0.4 parsing), ``evidence`` (§0.5), ``dates``, ``delivery``,
``nba`` and ``labels``. Job-only computations live in ``jobs/business``.
"""
