#!/usr/bin/env bash
# Starts a real single-node Kafka broker (KRaft, no ZooKeeper, no Docker) on
# 127.0.0.1 for raftbus's tests, and prints `KAFKA_BROKER=127.0.0.1:<port>`.
#
# The broker is Apache Kafka's own jars, fetched from Maven Central at run
# time by pom.xml beside this script (nothing is vendored), and run with the
# local Java (17+). Idempotent: the jars are collected once into a cache, the
# storage is formatted once, and a broker already running is left running.
#
# Environment (all optional):
#   RAFTBUS_KAFKA_VERSION          broker version          (3.9.2)
#   RAFTBUS_KAFKA_PORT             client port             (9092)
#   RAFTBUS_KAFKA_CONTROLLER_PORT  KRaft controller port   (9093)
#   RAFTBUS_KAFKA_DIR              config, data, pid, log  (${TMPDIR:-/tmp}/raftbus-kafka-<port>)
#   RAFTBUS_KAFKA_CACHE            jar cache               ($HOME/.cache/raftbus/kafka-<version>)
#   RAFTBUS_KAFKA_START_TIMEOUT    seconds to wait for the broker (90)
#   JAVA                           java binary             (java)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=${RAFTBUS_KAFKA_VERSION:-3.9.2}
port=${RAFTBUS_KAFKA_PORT:-9092}
cport=${RAFTBUS_KAFKA_CONTROLLER_PORT:-9093}
dir=${RAFTBUS_KAFKA_DIR:-${TMPDIR:-/tmp}/raftbus-kafka-$port}
cache=${RAFTBUS_KAFKA_CACHE:-$HOME/.cache/raftbus/kafka-$version}
timeout=${RAFTBUS_KAFKA_START_TIMEOUT:-90}
java=${JAVA:-java}

log() { echo "kafka/start.sh: $*" >&2; }
die() { log "$*"; exit 1; }

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The pid file names a live broker (not a process that reused a stale pid).
running() { [ -f "$dir/kafka.pid" ] && ps -p "$(cat "$dir/kafka.pid")" -o args= 2>/dev/null | grep -q 'kafka\.Kafka'; }
# The process just started has not exited. Not running(): until the forked
# shell has exec'd nohup and java (a while on a loaded machine), its command
# line is this script's.
alive() { ps -p "$(cat "$dir/kafka.pid")" -o stat= 2>/dev/null | grep -qv '^ *Z'; }

command -v "$java" >/dev/null || die "no java on PATH (Java 17 needed; apt-get install -y openjdk-17-jre-headless)"

# The broker has said it started, in its log after line $1. awk reads the
# file itself: `tail | grep -q` fails under pipefail once grep quits with
# more than a pipe's worth of log still to come (tail dies of SIGPIPE),
# which a restart's log reaches when the broker has many consumer groups.
started_after() { awk -v from="$1" 'NR > from && /Kafka Server started/ { found = 1; exit } END { exit !found }' "$dir/kafka.log"; }

# Ready when the broker says so and its port accepts: the port is bound,
# and accepts TCP, a little before the broker serves requests.
wait_ready() {
  local deadline=$((SECONDS + timeout))
  until started_after "$1" && accepts "$port"; do
    if ! alive; then
      tail -n 40 "$dir/kafka.log" >&2
      die "the broker exited during startup (log: $dir/kafka.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$dir/kafka.log" >&2
      die "the broker did not start within ${timeout}s (log: $dir/kafka.log; stop it with stop.sh)"
    fi
    sleep 0.5
  done
  echo "KAFKA_BROKER=127.0.0.1:$port"
}

if running; then
  log "already running (pid $(cat "$dir/kafka.pid"))"
  wait_ready 0
  exit 0
fi
accepts "$port" && die "port $port is taken by another process (set RAFTBUS_KAFKA_PORT)"
accepts "$cport" && die "port $cport is taken by another process (set RAFTBUS_KAFKA_CONTROLLER_PORT)"

# 1. The broker's jars. Collected into a temporary directory and renamed,
#    so an interrupted download is never mistaken for a complete one.
libs=$cache/libs
if [ ! -d "$libs" ]; then
  command -v mvn >/dev/null || die "no mvn on PATH (apt-get install -y maven)"
  log "collecting Kafka $version jars from Maven Central into $libs"
  mkdir -p "$cache"
  rm -rf "$libs.partial"
  # stdout carries only the KAFKA_BROKER line (Maven 3.8 prints colour resets even with -B -q).
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.partial" >&2
  mv "$libs.partial" "$libs"
fi
cp="$libs/*"

# 2. Configuration: one process that is both broker and KRaft controller.
mkdir -p "$dir/data"
cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
cat >"$dir/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.state.change.logger=WARN
PROPS

# C1 only: a test broker wants a fast start more than peak throughput.
jvm=("$java" -Xmx512m -Xms256m -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$dir/log4j.properties" -cp "$cp")

# 3. Storage, formatted once: a restart keeps the data, its cluster id and
#    its topics.
if [ ! -f "$dir/data/meta.properties" ]; then
  # 16 random bytes as unpadded base64url: the 22-character form Kafka uses.
  # Not one starting with '-' (1 in 64): the tool would take it for an
  # option ("--cluster-id: expected one argument"), as Kafka's own Uuid
  # generator avoids too.
  id=-
  while [ "${id#-}" != "$id" ]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  "${jvm[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
    --ignore-formatted >>"$dir/kafka.log" 2>&1 \
    || { tail -n 30 "$dir/kafka.log" >&2; die "formatting $dir/data failed (log: $dir/kafka.log)"; }
fi

# 4. The broker, in the background.
touch "$dir/kafka.log"
mark=$(wc -l <"$dir/kafka.log")
nohup "${jvm[@]}" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null &
echo $! >"$dir/kafka.pid"
wait_ready "$mark"
log "started (pid $(cat "$dir/kafka.pid"), log $dir/kafka.log)"
