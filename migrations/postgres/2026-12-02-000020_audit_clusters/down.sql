DROP TABLE audit_clusters;
