-- When the applied revision was reported (its success event's own time), kept apart from the
-- latest event's time: a success that arrives after a later failure still moves it, and an
-- older one never does. Rows from before take their latest event's time, which is never
-- earlier than their success's.
ALTER TABLE observed ADD COLUMN applied_at TIMESTAMP;
UPDATE observed SET applied_at = event_at WHERE applied_revision IS NOT NULL;
