DROP TABLE promotions;
