-- RetroVue schema v8 (sqlite): each cluster node records its lease ttl (CLUSTER-012), so
-- `cluster status` judges a node alive by the same rule the nodes use (heartbeat younger than
-- its ttl). Rows written before it read NULL: the default ttl (6 s) applies.

ALTER TABLE cluster_node ADD COLUMN lease_ttl_ms INTEGER;
