#!/bin/sh
# Creates the xbmon topics on the compose stack's Kafka (run by the `topic-init` service in the
# apache/kafka image), then checks that every topic has the expected partition count and
# cleanup.policy. Idempotent: existing topics are kept, never altered; a mismatch fails the run
# (partition counts are never changed automatically: keyed state follows them).
#
# The table below mirrors pipeline/topics.py (ALL_TOPICS); tests/deploy/test_compose.py keeps
# them equal. "$TOPIC_PARTITIONS" stands for the configured count (XBMON_KAFKA__PARTITIONS of the
# workers); reference topics are compacted, single-partition and read whole by every worker.
set -eu

BOOTSTRAP_SERVERS="${BOOTSTRAP_SERVERS:-kafka:9092}"
TOPIC_PARTITIONS="${TOPIC_PARTITIONS:?set TOPIC_PARTITIONS}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
KAFKA_TOPICS="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

topics() {
    # topic                     partitions             cleanup.policy
    create egress.flows             "$TOPIC_PARTITIONS"    delete
    create egress.flows.attributed  "$TOPIC_PARTITIONS"    delete
    create transfer.logs            "$TOPIC_PARTITIONS"    delete
    create reference.enterprises    1                      compact
    create reference.filings        1                      compact
    create reference.negative_list  1                      compact
    create findings                 "$TOPIC_PARTITIONS"    delete
    create deadletter               "$TOPIC_PARTITIONS"    delete
    create evidence.rows            "$TOPIC_PARTITIONS"    delete
    create scores                   "$TOPIC_PARTITIONS"    compact
    create tier.changes             "$TOPIC_PARTITIONS"    delete
    create alerts                   "$TOPIC_PARTITIONS"    delete
    create alert.actions            "$TOPIC_PARTITIONS"    delete
}

# The broker answers its healthcheck before it may accept admin requests: retry a while.
attempt=1
until existing=$("$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP_SERVERS" --list); do
    if [ "$attempt" -ge "${LIST_ATTEMPTS:-10}" ]; then
        echo "no topic listing from $BOOTSTRAP_SERVERS after $attempt attempts" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep "${RETRY_SECONDS:-3}"
done

create() {
    if printf '%s\n' "$existing" | grep -qxF -- "$1"; then
        echo "topic $1 exists"
        return 0
    fi
    "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
        --topic "$1" --partitions "$2" --replication-factor "$REPLICATION_FACTOR" \
        --config "cleanup.policy=$3"
}
topics

# Then check every topic, existing or new, with one describe. Its summary lines read
# "Topic: NAME<TAB>TopicId: ...<TAB>PartitionCount: N<TAB>...<TAB>Configs: k=v,k=v"
# (Configs lists what is not a broker default; no cleanup.policy there means delete).
described=$("$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP_SERVERS" --describe --exclude-internal)
failed=0
create() {  # redefined: the same table, now checked
    summary=$(printf '%s\n' "$described" | awk -F '\t' -v t="Topic: $1" '$1 == t')
    partitions=$(printf '%s\n' "$summary" | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p')
    policy=$(printf '%s\n' "$summary" | sed -n 's/.*[[:space:],]cleanup\.policy=\([a-z,]*\).*/\1/p')
    if [ -z "$summary" ]; then
        echo "topic $1: missing" >&2
        failed=1
        return 0
    fi
    if [ "$partitions" != "$2" ]; then
        echo "topic $1: $partitions partitions, expected $2 (recreate it, or fix TOPIC_PARTITIONS)" >&2
        failed=1
    fi
    if [ "${policy:-delete}" != "$3" ]; then
        echo "topic $1: cleanup.policy=${policy:-delete}, expected $3 (kafka-configs.sh --alter)" >&2
        failed=1
    fi
}
topics
if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "xbmon topics ready on $BOOTSTRAP_SERVERS"
