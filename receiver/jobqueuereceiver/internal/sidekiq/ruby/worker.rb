# frozen_string_literal: true

# Job classes and Redis settings shared by the Sidekiq server the Go tests
# start (`sidekiq -r worker.rb`) and by the scripts that drive it.
#
# Environment: REDIS_URL (required), SIDEKIQ_NAMESPACE (optional; needs the
# redis-namespace gem, Debian package ruby-redis-namespace).
require "sidekiq"

redis = {url: ENV.fetch("REDIS_URL")}
redis[:namespace] = ENV["SIDEKIQ_NAMESPACE"] unless ENV["SIDEKIQ_NAMESPACE"].to_s.empty?
Sidekiq.configure_client { |config| config.redis = redis }
Sidekiq.configure_server do |config|
  config.redis = redis
  # Poll the retry and schedule sets every second (default: every 5 s per
  # process) so rescheduled retries run within the test.
  config.options[:poll_interval_average] = 1
end

# Runs for a long time: it is what the in-flight figures see.
class SlowJob
  include Sidekiq::Worker
  sidekiq_options queue: "critical"

  def perform(seconds)
    sleep seconds
  end
end

class QuickJob
  include Sidekiq::Worker

  def perform(_n)
  end
end

# Always fails. After its first real retry it waits an hour in the retry set.
class FlakyJob
  include Sidekiq::Worker
  sidekiq_options retry: 5
  sidekiq_retry_in { 3600 }

  def perform(n)
    raise ArgumentError, "flaky #{n}"
  end
end

# Always fails; its single retry exhausts it into the dead set.
class FragileJob
  include Sidekiq::Worker
  sidekiq_options retry: 1
  sidekiq_retry_in { 3600 }

  def perform(n)
    raise IOError, "fragile #{n}"
  end
end

# retry: 0 sends it to the dead set on its first failure.
class DoomedJob
  include Sidekiq::Worker
  sidekiq_options retry: 0

  def perform(n)
    raise "doomed #{n}"
  end
end
