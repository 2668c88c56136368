# Writes the log lines a Sidekiq 6 server prints for two job runs, one that
# succeeds and one that raises, using Sidekiq's own JobLogger, JSON formatter
# and default error handler (the pieces Sidekiq::Processor calls).
require "sidekiq"
require "sidekiq/job_logger"
require "sidekiq/exception_handler"

logger = Sidekiq::Logger.new($stdout)
logger.formatter = Sidekiq::Logger::Formatters::JSON.new
Sidekiq.logger = logger
jobs = Sidekiq::JobLogger.new(logger)

ok = {"class" => "SendEmailJob", "jid" => "0a1b2c3d4e5f60718293a4b5", "queue" => "default"}
bad = {"class" => "HardJob", "jid" => "b4a577edbccf1d805744efa9", "queue" => "critical", "retry_count" => 1}

jobs.prepare(ok) { jobs.call(ok, "default") {} }
begin
  jobs.prepare(bad) { jobs.call(bad, "critical") { raise ArgumentError, "boom: bad input" } }
rescue ArgumentError => e
  Sidekiq::ExceptionHandler::Logger.new.call(e, {context: "Job raised exception", job: bad})
end
