"""Pure computations of business.md that only jobs run (no DB, Redis or RQ): one module per job.

``digests`` (daily/weekly_digest), ``health`` (health_scoring), ``analytics`` (analytics_aggregates),
``upsell`` (upsell_radar), ``continuity`` (continuity_preview), ``identity_suggestions``,
``campaigns`` (campaign_scheduler) and ``loops`` (loops_contacts_sync).
"""
