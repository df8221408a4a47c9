CREATE TABLE "vss_user_usage" (
	"user_token" varchar(120) PRIMARY KEY NOT NULL,
	"bytes" bigint NOT NULL,
	"keys" bigint NOT NULL
);
