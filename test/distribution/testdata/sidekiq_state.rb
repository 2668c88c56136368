# Writes a small, known Sidekiq 6.4 state with Sidekiq's own library (client,
# DeadSet API, launcher heartbeat). TestScrapesSidekiq expects the values below
# in the collector's Prometheus output. Run: REDIS_URL=redis://host:port/0 ruby sidekiq_state.rb
require "securerandom"
require "sidekiq"
require "sidekiq/api"
require "sidekiq/launcher"
Redis.silence_deprecations = true # redis-rb 4.8 warns about Redis#sadd on every push
Sidekiq.configure_client { |c| c.redis = { url: ENV.fetch("REDIS_URL") } }
Sidekiq.logger.level = Logger::WARN
now = Time.now.to_f

Sidekiq::Client.push_bulk("class" => "OrderSyncJob", "queue" => "default", "args" => [[1], [2], [3]])
Sidekiq::Client.push_bulk("class" => "ActionMailer::MailDeliveryJob", "queue" => "mailers", "args" => [[1], [2]])
Sidekiq::Client.push_bulk("class" => "ReminderJob", "queue" => "mailers", "args" => [[1], [2], [3], [4]], "at" => now + 3600)
# A queue nobody works: its only job was pushed ten minutes ago.
Sidekiq.redis do |c|
  c.sadd("queues", "reports")
  c.lpush("queue:reports", Sidekiq.dump_json("retry" => true, "queue" => "reports", "class" => "ReportExportJob",
    "args" => [], "jid" => SecureRandom.hex(12), "created_at" => now - 600, "enqueued_at" => now - 600))
end
failed = ->(klass, count) {
  { "retry" => true, "queue" => "default", "class" => klass, "args" => [], "jid" => SecureRandom.hex(12),
    "created_at" => now - 60, "enqueued_at" => now - 60, "error_class" => "Net::ReadTimeout",
    "error_message" => "Net::ReadTimeout", "failed_at" => now - 30, "retry_count" => count }
}
# Retries as Sidekiq::JobRetry writes them; a death through the DeadSet API.
Sidekiq.redis { |c| [0, 1].each { |n| c.zadd("retry", (now + 60).to_s, Sidekiq.dump_json(failed.("WebhookJob", n))) } }
Sidekiq::DeadSet.new.kill(Sidekiq.dump_json(failed.("WebhookJob", 25)), notify_failure: false)

# One process with one job running for ten minutes, through the launcher's own heartbeat.
Sidekiq::Processor::PROCESSED.incr(100)
Sidekiq::Processor::FAILURE.incr(7)
running = Sidekiq.dump_json("retry" => true, "queue" => "default", "class" => "DataMigrationJob", "args" => [],
  "jid" => SecureRandom.hex(12), "created_at" => now - 601, "enqueued_at" => now - 601)
Sidekiq::Processor::WORKER_STATE.set("tid1", { queue: "default", payload: running, run_at: (now - 600).to_i })
launcher = Sidekiq::Launcher.new(Sidekiq.options.merge(queues: ["default", "mailers"], concurrency: 5))
launcher.send(:❤)
