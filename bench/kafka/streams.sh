#!/usr/bin/env bash
# Builds and runs bench/kafka/streams/Annotate.java, the Kafka Streams app
# bench/kafka measures beside annotator's Kafka stage (go run ./bench/kafka
# -brokers HOST:PORT -streams runs it; it is not a CI step). Fetches
# org.apache.kafka:kafka-streams and a log4j binding with Maven into
# STREAMS_HOME once, compiles the class with javac when the source is newer,
# then replaces itself with the JVM, so the caller's process id is the
# app's. Needs Java 17+ and Maven.
#
#   bash bench/kafka/streams.sh BOOTSTRAP IN OUT APPLICATION_ID CODES.tsv THREADS STATE_DIR [GUARANTEE]
#   (GUARANTEE: at_least_once, the default, or exactly_once_v2)
#   bash bench/kafka/streams.sh build    # fetch and compile only
#
#   STREAMS_VERSION  kafka-streams version (default 4.1.0, the broker's)
#   STREAMS_HOME     where jars and classes are kept
#                    (default ~/.cache/annotator/kafka-streams-$STREAMS_VERSION)
#   STREAMS_HEAP     the app's heap flags (default -Xms256m -Xmx256m)
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)/streams/Annotate.java

# The same fetching as the CI's broker, into this app's own directory.
# shellcheck source=../../.ci/kafka-lib.sh
. "$(dirname "$0")/../../.ci/kafka-lib.sh"
version=${STREAMS_VERSION:-4.1.0}
home=${STREAMS_HOME:-$HOME/.cache/annotator/kafka-streams-$version}
libs=$home/libs
classes=$home/classes
maven_fetch kafka-streams "$version" "$libs" >&2

if [ ! -f "$classes/Annotate.class" ] || [ "$src" -nt "$classes/Annotate.class" ]; then
  mkdir -p "$classes"
  javac -d "$classes" -cp "$libs/*" "$src"
fi

if [ "${1:-}" = build ] && [ $# = 1 ]; then
  exit 0
fi

cat >"$home/log4j2.properties" <<L4J
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.target=SYSTEM_ERR
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[streams] %d %p %c{1}: %m%n
L4J

# shellcheck disable=SC2086 # STREAMS_HEAP is a list of flags
exec java ${STREAMS_HEAP:--Xms256m -Xmx256m} -Dlog4j2.configurationFile="$home/log4j2.properties" \
  -cp "$classes:$libs/*" Annotate "$@"
