"""The chunk service on the embedded SQLite default (substring lexical fallback, no SKIP LOCKED)."""

from tests.db.test_rag_chunks import (  # noqa: F401 - collected again with the SQLite ``clean`` fixture
    scope,
    test_claim_ready_and_release_cycle,
    test_edit_reembeds_exactly_the_changed_chunks,
    test_first_sync_inserts_pending_chunks_and_second_changes_nothing,
    test_lexical_ranking_matches_the_reference_and_gates_on_coverage,
    test_lexical_search_ranks_ready_chunks_of_the_scope,
    test_shorter_text_deletes_surplus_chunks_and_none_deletes_all,
    test_sources_are_scoped_per_project,
    test_stale_processing_rows_are_recovered,
)
