DROP TABLE cluster_event_secrets;
DROP TABLE flux_events;
DROP TABLE observed;
