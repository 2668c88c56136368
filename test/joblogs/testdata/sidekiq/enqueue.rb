# Enqueues one FlakyJob, BURST BurstJobs and OK OkJobs with Sidekiq's client.
#   REDIS_URL=redis://host:port/0 ruby enqueue.rb BURST OK
require_relative "jobs"

burst, ok = ARGV.map { |a| Integer(a) }
FlakyJob.perform_async
burst.times { |n| BurstJob.perform_async(n) }
ok.times { |n| OkJob.perform_async(n) }
