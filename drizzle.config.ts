import { defineConfig } from "drizzle-kit";

// Migrations are generated from src/storage/schema.ts by `npm run db:generate`
// and are append-only once committed.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/storage/schema.ts",
  out: "./drizzle",
});
