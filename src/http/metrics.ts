// Prometheus metrics of one node. prom-client bundles cleanly into the compiled binary
// (PLATFORM-NOTES); each node gets its own registry so tests can run several in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export class NodeMetrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: "flydb_commands_total",
    help: "Commands processed, by command name",
    labelNames: ["command"] as const,
    registers: [this.registry],
  });
  readonly commandErrors = new Counter({
    name: "flydb_command_errors_total",
    help: "Commands answered with an error, by command name",
    labelNames: ["command"] as const,
    registers: [this.registry],
  });
  readonly commandLatency = new Histogram({
    name: "flydb_command_duration_seconds",
    help: "Time from receiving a command to having its reply, by command name",
    labelNames: ["command"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly connectedClients = new Gauge({
    name: "flydb_connected_clients",
    help: "Client connections open now",
    registers: [this.registry],
  });
  readonly connectionsTotal = new Counter({
    name: "flydb_connections_received_total",
    help: "Client connections accepted since start",
    registers: [this.registry],
  });
  readonly protocolErrors = new Counter({
    name: "flydb_protocol_errors_total",
    help: "Connections closed for a malformed RESP stream",
    registers: [this.registry],
  });
  readonly keys: Gauge;
  readonly commitLatency = new Histogram({
    name: "flydb_sqlite_commit_duration_seconds",
    help: "Duration of one group-commit transaction on the log database (including fsync)",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly commitBatch = new Histogram({
    name: "flydb_sqlite_commit_batch_ops",
    help: "Ops written per group-commit transaction",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });

  /** keyCount is read at scrape time rather than maintained on every write. */
  constructor(keyCount: () => number) {
    this.keys = new Gauge({
      name: "flydb_keys",
      help: "Live keys in the keyspace",
      registers: [this.registry],
      collect() {
        this.set(keyCount());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: "flydb_process_" });
  }
}
