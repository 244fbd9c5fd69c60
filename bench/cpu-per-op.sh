#!/bin/bash
# CPU per op of one FlyDB process (all its threads, from /proc/PID/stat before and after each
# redis-benchmark run, -c 50, fsync always): durable SET, SET -P 16, GET. On a loaded machine
# throughput follows CPU per op, which moves far less with the load than requests per second.
# MODE: standalone, or cluster (a member that bootstrapped alone, 256 partitions, loopback ports).
#
#   bash bench/cpu-per-op.sh BIN standalone|cluster   (PORT=N moves its 4 loopback ports; NOSET, NOP,
#   NOGET=1 skip a test)
BIN=$1; MODE=$2; PORT=${PORT:-17511}
d=$(mktemp -d /tmp/flydb-cpu.XXXX)
extra=""
[ "$MODE" = cluster ] && extra="--cluster-addr 127.0.0.1:$((PORT+2)) --raft-addr 127.0.0.1:$((PORT+3)) --partition-count 256 --bootstrap"
$BIN --bind-addr 127.0.0.1:$PORT --http-addr 127.0.0.1:$((PORT+1)) --data-dir $d/data --node-id ab1 $extra --log-level warn --fsync always >$d/log 2>&1 &
pid=$!
for i in $(seq 200); do redis-cli -p $PORT SET probe 1 2>/dev/null | grep -q OK && break; sleep 0.2; done
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
hz=$(getconf CLK_TCK)
run() { # name n args...
  local name=$1 n=$2; shift 2
  local c0=$(cpu)
  local out=$(redis-benchmark -p $PORT -r 100000 -n $n -c 50 -q --csv "$@" | tail -1 | cut -d, -f2 | tr -d '"')
  local c1=$(cpu)
  echo "$MODE $name rps=$out cpu_us_per_op=$(echo "($c1-$c0)*1000000/$hz/$n" | bc -l | cut -c1-6)"
}
[ -z "$NOSET" ] && run set 20000 -t set
[ -z "$NOP" ] && run setP16 160000 -t set -P 16
[ -z "$NOGET" ] && run get 20000 -t get
kill -TERM $pid; wait $pid 2>/dev/null
rm -rf $d
