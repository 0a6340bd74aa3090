#!/usr/bin/env bash
# Starts the local message brokers the broker tests talk to, when one is not already listening.
# Each start command is the one this machine kind documents; a failure is reported, not fatal here:
# the tests themselves fail under CI when a broker they need is unreachable.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- 3<&-; }

start() {
  local name=$1 port=$2; shift 2
  if port_open "$port"; then echo "services: $name is up on 127.0.0.1:$port"; return; fi
  echo "services: starting $name"
  "$@" >/dev/null 2>&1 || echo "services: could not start $name ($*)"
  for _ in $(seq 1 60); do port_open "$port" && { echo "services: $name is up on 127.0.0.1:$port"; return; }; sleep 1; done
  echo "services: $name did not come up on 127.0.0.1:$port"
}

command -v redis-server >/dev/null && start redis 6379 redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
command -v nats-server >/dev/null && start nats 4222 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
command -v rabbitmq-server >/dev/null && start rabbitmq 5672 rabbitmq-server -detached
exit 0
