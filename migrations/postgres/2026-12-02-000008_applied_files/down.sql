DROP TABLE applied_files;
