# frozen_string_literal: true

# Drives the Sidekiq server started by the Go integration test through the
# real client API, one phase per invocation: ruby scenario.rb <phase>.
require_relative "worker"
require "sidekiq/api"

case ARGV.fetch(0)
when "failures"
  # Jobs for the running server: failures land in retry or dead, quick jobs
  # count as processed, slow ones keep two threads busy.
  3.times { |i| FlakyJob.perform_async(i) }
  Sidekiq::Client.push("class" => FlakyJob, "args" => [99], "display_class" => "Reports::Nightly")
  2.times { |i| FragileJob.perform_async(i) }
  2.times { |i| DoomedJob.perform_async(i) }
  5.times { |i| QuickJob.perform_async(i) }
  2.times { SlowJob.perform_async(600) }
when "retry"
  # Bring every retry forward to now; the server's poller re-runs them, a
  # real retry: retry_count goes up, FragileJob is exhausted into dead.
  Sidekiq::RetrySet.new.each { |entry| entry.reschedule(Time.now) }
when "waiting"
  # One more slow job, started later than the first two. Sidekiq 6.4 keeps
  # run_at in whole seconds and the test puts stalled_after between the two
  # start times, so they must be at least 2 s apart: the retry phase can take
  # less than a second.
  sleep 2
  SlowJob.perform_async(600)
  # Queues no process works on: these jobs wait, enqueued at different times.
  3.times do |i|
    Sidekiq::Client.push("class" => "MailJob", "queue" => "mailers", "args" => [i])
    sleep 0.2
  end
  Sidekiq::Client.push_bulk("class" => "ReportJob", "queue" => "reports", "args" => [[1], [2]])
  Sidekiq::Client.push("class" => "LowJob", "queue" => "low", "args" => [{"big" => "x" * 100_000}])
  4.times { |i| QuickJob.perform_in(3600 + i, i) }
when "quiet"
  Sidekiq::ProcessSet.new.each(&:quiet!)
else
  abort "unknown phase #{ARGV[0]}"
end
