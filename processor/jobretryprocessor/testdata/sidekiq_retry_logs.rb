# Prints the log lines a Sidekiq 6 server writes, with its own JobLogger and
# JSON formatter, for one job that fails ARGV[0] times (each retry runs the
# same job hash again, with Sidekiq's retry_count) and then succeeds.
require "sidekiq"
require "sidekiq/job_logger"

logger = Sidekiq::Logger.new($stdout)
logger.formatter = Sidekiq::Logger::Formatters::JSON.new
Sidekiq.logger = logger
jobs = Sidekiq::JobLogger.new(logger)

job = {"class" => "HardJob", "jid" => "b4a577edbccf1d805744efa9", "queue" => "critical"}
Integer(ARGV.fetch(0)).times do |retry_count|
  begin
    jobs.prepare(job) { jobs.call(job, "critical") { raise ArgumentError, "boom: bad input" } }
  rescue ArgumentError
    job["retry_count"] = retry_count
  end
end
jobs.prepare(job) { jobs.call(job, "critical") {} }
