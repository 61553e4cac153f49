DROP TABLE build_evidence;
