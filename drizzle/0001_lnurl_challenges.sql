CREATE TABLE "vss_lnurl_challenges" (
	"k1" varchar(64) PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "vss_lnurl_challenges_expires_at_idx" ON "vss_lnurl_challenges" USING btree ("expires_at");