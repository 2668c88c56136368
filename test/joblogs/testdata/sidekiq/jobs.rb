# Sidekiq 6.4 jobs the joblogs test runs on a real worker (Debian ruby-sidekiq):
#   sidekiq -r ./jobs.rb -c 1 -t 1
# FlakyJob fails every time and is retried by Sidekiq's own retry mechanism
# until its 4 retries are spent; BurstJob fails once (no retry); OkJob
# succeeds. Sidekiq connects to $REDIS_URL. SIDEKIQ_LOG_FORMAT=json switches
# the log to Sidekiq's JSON formatter (the default is its text formatter).
require "sidekiq"

# Sidekiq 6.4 adds rand(10) * (retry_count + 1) seconds of jitter even to the
# delay sidekiq_retry_in chooses (and treats 0 as "use the default"): without
# it, four retries would take up to 90 s. Only the delay changes; the retry
# itself (retry set, retry_count, dead set) is Sidekiq's.
module RetryInWithoutJitter
  def delay_for(worker, count, exception)
    return super unless worker&.sidekiq_retry_in_block

    retry_in(worker, count, exception).to_i
  end
end

Sidekiq.configure_server do |config|
  config.log_formatter = Sidekiq::Logger::Formatters::JSON.new if ENV["SIDEKIQ_LOG_FORMAT"] == "json"
  # Look for due retries every ~0.2 s instead of every ~5 s (the first look
  # comes within 5 s of start).
  config.options[:poll_interval_average] = 0.2
  require "sidekiq/job_retry"
  Sidekiq::JobRetry.prepend(RetryInWithoutJitter)
end

class FlakyJob
  include Sidekiq::Worker
  sidekiq_options retry: 4
  sidekiq_retry_in { 0 }

  def perform
    raise ArgumentError, "boom"
  end
end

class BurstJob
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(n)
    raise IOError, "payment provider unreachable (request #{n})"
  end
end

class OkJob
  include Sidekiq::Worker

  def perform(n); end
end
