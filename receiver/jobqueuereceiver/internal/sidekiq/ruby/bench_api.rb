# frozen_string_literal: true

# Times Sidekiq's own API computing the figures the Go reader's snapshot
# holds, on whatever dataset REDIS_URL points at:
#   ruby bench_api.rb ITERATIONS
# prints {"iterations","ns_per_op","round_trips_per_op","commands_per_op"}.
#
# Figures: Stats (processed, failed, scheduled/retry/dead sizes, workers_size),
# every queue's size and latency, ProcessSet and Workers. ProcessSet.new
# prunes stale registry entries (SREM); the benchmark dataset has none, so
# nothing is written.
require_relative "worker"
require "sidekiq/api"
require "json"

# Counts what redis-rb sends: each Redis::Client#process call writes its
# commands and reads their replies, one round trip (a pipeline is one call).
module RoundTripCounter
  class << self
    attr_accessor :round_trips, :commands
  end
  self.round_trips = 0
  self.commands = 0

  def process(commands)
    RoundTripCounter.round_trips += 1
    RoundTripCounter.commands += commands.size
    super
  end
end
Redis::Client.prepend(RoundTripCounter)

def figures
  stats = Sidekiq::Stats.new
  [stats.processed, stats.failed, stats.scheduled_size, stats.retry_size, stats.dead_size, stats.workers_size]
  Sidekiq::Queue.all.each do |q|
    q.size
    q.latency
  end
  Sidekiq::ProcessSet.new.each { |p| [p["busy"], p["concurrency"], p["rss"], p["quiet"], p["beat"]] }
  Sidekiq::Workers.new.each { |_process, _thread, work| work["run_at"] }
end

iterations = Integer(ARGV.fetch(0))
figures # warm-up: connects, so connection set-up is not counted
RoundTripCounter.round_trips = RoundTripCounter.commands = 0
start = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
iterations.times { figures }
elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond) - start

puts JSON.generate(
  iterations: iterations,
  ns_per_op: elapsed / iterations,
  round_trips_per_op: RoundTripCounter.round_trips.fdiv(iterations),
  commands_per_op: RoundTripCounter.commands.fdiv(iterations)
)
