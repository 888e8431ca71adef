// PostGraphile v5 as the benchmarks run it: the "amber" preset, filters (connection-filter) and
// aggregates (pg-aggregates), over the `public` schema of DATABASE_URL, on PGL_PORT.
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";
import { PgAggregatesPreset } from "@graphile/pg-aggregates";

export default {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset, PgAggregatesPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      // The same number of connections as user-events' pool on this machine.
      poolConfig: { max: Number(process.env.PGL_POOL_MAX || 10) },
    }),
  ],
  grafserv: { host: "127.0.0.1", port: Number(process.env.PGL_PORT || 5678), graphiql: false, watch: false },
};
