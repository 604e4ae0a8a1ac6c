#!/usr/bin/env bash
# Runs the Kafka tests against a real Apache Kafka broker: fetches the
# broker's jars with Maven (Maven Central), formats a single-node KRaft log
# directory, starts the broker on a free loopback port, runs the tests with
# ANNOTATOR_KAFKA_BROKERS pointing at it, and stops it however the script
# ends. Needs Java 17+, Maven and Go.
#
#   KAFKA_VERSION, KAFKA_HOME, KAFKA_HEAP: see .ci/kafka-lib.sh
#   KAFKA_KEEP=1    leave the broker running and print its address
#                   instead of running the tests (to test by hand)
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/kafka-lib.sh
kafka_fetch

port=$(free_port)
cport=$(free_port)
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
if [ "${KAFKA_KEEP:-}" != 1 ]; then
  trap cleanup EXIT
fi

cat >"$work/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$work/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
kafka_log4j "$work/log4j2.properties"
read -r -a java_opts <<<"$(kafka_java_opts "$work/log4j2.properties")"
cluster=$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$work/server.properties" >/dev/null

echo "== starting Kafka $version on 127.0.0.1:$port"
java "${java_opts[@]}" kafka.Kafka "$work/server.properties" >"$work/broker.log" 2>&1 &
pid=$!

wait_port "$port" "$pid" "$work/broker.log"

if [ "${KAFKA_KEEP:-}" = 1 ]; then
  echo "Kafka is running: ANNOTATOR_KAFKA_BROKERS=127.0.0.1:$port (pid $pid, data $work)"
  exit 0
fi

echo "== go test (Kafka tests against Apache Kafka $version)"
ANNOTATOR_KAFKA_BROKERS=127.0.0.1:$port go test -count=1 \
  ./sinks/kafka/... ./sources/kafka/... \
  ./cmd/annotator/ -run 'Kafka|Sink|Consume|Failing|StartErrors'
