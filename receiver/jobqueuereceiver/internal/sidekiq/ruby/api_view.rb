# frozen_string_literal: true

# Prints, as one JSON object, what Sidekiq's own API reports: the figures the
# Go reader must reproduce. The clock is frozen at one instant (now_ns in the
# output) so that latencies and ages are measured from the same moment the Go
# reader is told to use. ProcessSet.new(false) skips the cleanup that would
# SREM stale entries: this script only reads.
require_relative "worker"
require "sidekiq/api"
require "json"

NOW = Time.now
class << Time
  def now(*, **)
    NOW
  end
end

stats = Sidekiq::Stats.new

by_class = Hash.new(0)
{"retry" => Sidekiq::RetrySet.new, "dead" => Sidekiq::DeadSet.new}.each do |state, set|
  set.each { |entry| by_class[[state, entry.display_class, entry["error_class"].to_s]] += 1 }
end

view = {
  now_ns: NOW.to_i * 1_000_000_000 + NOW.nsec,
  stats: {
    processed: stats.processed,
    failed: stats.failed,
    scheduled_size: stats.scheduled_size,
    retry_size: stats.retry_size,
    dead_size: stats.dead_size,
    workers_size: stats.workers_size,
    processes_size: stats.processes_size
  },
  queues: Sidekiq::Queue.all.map { |q| {name: q.name, size: q.size, latency: q.latency.to_f, paused: q.paused?} },
  processes: Sidekiq::ProcessSet.new(false).map do |p|
    {
      identity: p.identity, hostname: p["hostname"], pid: p["pid"], tag: p.tag,
      concurrency: p["concurrency"], busy: p["busy"], rss: p["rss"], quiet: p["quiet"],
      beat: p["beat"], queues: p.queues
    }
  end,
  workers: Sidekiq::Workers.new.map { |process, thread, work| {process: process, thread: thread, queue: work["queue"], run_at: work["run_at"]} },
  by_class: by_class.map { |(state, klass, error), count| {state: state, class: klass, error_class: error, count: count} }
}
puts JSON.generate(view)
