-- RetroVue schema v3 (sqlite): a channel's optional engine output profile (ENGINE-020, LINEUP-015).

ALTER TABLE channel ADD COLUMN output_profile TEXT;
