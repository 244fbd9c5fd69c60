import { expect, test } from "bun:test";
import { CommandStats } from "../../src/http/command-stats.ts";

test("command stats are written in Prometheus text format with cumulative buckets", () => {
  const s = new CommandStats();
  s.record("get", 0.00004, false);
  s.record("get", 0.0003, false);
  s.record("get", 2, true);
  s.record('we"ird', 0.001, false);
  const text = s.exposition();
  expect(text).toContain('flydb_commands_total{command="get"} 3');
  expect(text).toContain('flydb_command_errors_total{command="get"} 1');
  expect(text).toContain('flydb_command_duration_seconds_bucket{le="0.00005",command="get"} 1');
  expect(text).toContain('flydb_command_duration_seconds_bucket{le="0.0005",command="get"} 2');
  expect(text).toContain('flydb_command_duration_seconds_bucket{le="1",command="get"} 2');
  expect(text).toContain('flydb_command_duration_seconds_bucket{le="+Inf",command="get"} 3');
  expect(text).toContain('flydb_command_duration_seconds_count{command="get"} 3');
  expect(text).toContain('flydb_commands_total{command="we\\"ird"} 1');
  expect(text).toMatch(/# TYPE flydb_command_duration_seconds histogram/);
});
