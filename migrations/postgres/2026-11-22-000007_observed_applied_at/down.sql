ALTER TABLE observed DROP COLUMN applied_at;
